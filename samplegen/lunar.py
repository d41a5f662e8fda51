"""GE Lunar enCORE DICOM files built from canonical exams (fixtures and sample data).

`write_lunar_dicoms(frame, folder, variant=...)` writes one small, valid DICOM file (no
pixel data) per GE Lunar exam of `frame`, with the results

* `"xml_old"`: as `DENSITOMETRY_RESULTS` XML in ImageComments (per region a `SCAN` >
  `TREND` holding `TREND_ROI` with the region as text and `EXAM` siblings, a previous
  exam first, the current one last; decimal commas; M/D/YYYY exam dates);
* `"xml_new"`: as `DXA_RESULTS` XML (ROI elements; BMD in mg/cm2 in every other file;
  a TREND with the current exam first);
* `"sr"`: as a structured report (AP Spine / DualFemur / Forearm / FRAX containers,
  T- and Z-scores as text);
* `"mixed"`: the three in turn.

Each file also carries the quirks the reader must survive: decoy lumbar ranges
(`L2-L4`, `L3-L4` next to `L1-L4`), `Upper Neck` and `Neck Mean` ROIs, and for about a
third of hip exams the contralateral femur with a higher T-score.

`lunar_twin(frame)` (also returned by `write_lunar_dicoms`) is the canonical twin: the
same exams as canonical rows holding only what the files carry, so that loading the
twin as a CSV and the files as DICOM must give the same registry rows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import polars as pl
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from samplegen._rng import Rng
from samplegen.twin import as_canonical, kept, site_columns

VARIANTS = ("xml_old", "xml_new", "sr")
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
_ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"


def _num(value: float | None, digits: int, comma: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if comma else text


def _rois(exam: dict, other_hip: bool) -> list[tuple[str, str, dict[str, float | None]]]:
    """(scan type, region, {bmd, t, z}) for the exam, decoys included."""
    out: list[tuple[str, str, dict[str, float | None]]] = []
    if exam["spine_t"] is not None:
        n = exam["spine_vertebrae"] or 4
        main = {"bmd": exam["spine_bmd"], "t": exam["spine_t"], "z": exam["spine_z"]}
        region = "L1-L4" if n == 4 else ("L1" if n == 1 else f"L1-L{n}")
        out.append(("AP Spine", region, main))
        decoy = {k: (v + 0.3 if v is not None else None) for k, v in main.items()}
        if n == 4:
            out += [("AP Spine", "L2-L4", decoy), ("AP Spine", "L3-L4", decoy)]
        elif n == 3:
            out.append(("AP Spine", "L2-L3", decoy))
    if exam["femoral_neck_t"] is not None:
        side = (exam["hip_side"] or "left").capitalize()
        other = "Right" if side == "Left" else "Left"
        neck = {"bmd": exam["femoral_neck_bmd"], "t": exam["femoral_neck_t"],
                "z": exam["femoral_neck_z"]}
        total = {"bmd": exam["total_hip_bmd"], "t": exam["total_hip_t"],
                 "z": exam["total_hip_z"]}
        decoy = {k: (v - 0.4 if v is not None else None) for k, v in neck.items()}
        sides = [(side, 0.0)] + ([(other, 0.4)] if other_hip else [])
        for name, shift in sides:
            up = {k: (v + shift if v is not None else None) for k, v in neck.items()}
            out.append((f"{name} Femur", "Neck", up))
            out.append((f"{name} Femur", "Upper Neck", decoy))
            if total["t"] is not None:
                out.append((f"{name} Femur", "Total",
                            {k: (v + shift if v is not None else None) for k, v in total.items()}))
        if other_hip:
            out.append(("DualFemur", "Neck Mean", decoy))
    if exam["radius_33_t"] is not None:
        out.append(("Left Forearm", "Radius 33%", {"bmd": exam["radius_33_bmd"],
                    "t": exam["radius_33_t"], "z": exam["radius_33_z"]}))
    return out


def _frax_xml(exam: dict) -> str:
    if exam["frax_major_pct"] is None:
        return ""
    return (
        f"<FRAX><PROBABILITY name=\"Major Osteoporotic\">{exam['frax_major_pct']:.1f}"
        f"</PROBABILITY><PROBABILITY name=\"Hip Fracture\">{exam['frax_hip_pct']:.1f}"
        "</PROBABILITY></FRAX>"
    )


def _trend_exam(when: date, values: dict[str, float | None], shift: float) -> str:
    """One `EXAM` of an older-XML trend (decimal commas, M/D/YYYY date)."""
    parts = [f"<EXAM_DATE>{when.month}/{when.day}/{when.year}</EXAM_DATE>"]
    if values["bmd"] is not None:
        parts.append(f"<BMD>{_num(values['bmd'] + shift * 0.01, 3, True)}</BMD>")
    parts.append(f"<YAT>{_num(values['t'] + shift * 0.1, 1, True)}</YAT>")
    if values["z"] is not None:
        parts.append(f"<AMZ>{_num(values['z'] + shift * 0.1, 1, True)}</AMZ>")
    parts.append("<BMD_CHANGE><TYPE>ROC_VS_PREVIOUS</TYPE><VALUE>0,5</VALUE></BMD_CHANGE>")
    return "<EXAM>" + "".join(parts) + "</EXAM>"


def old_xml(exam: dict, other_hip: bool) -> str:
    """`DENSITOMETRY_RESULTS`: one `SCAN` > `TREND` per region, current exam last.

    As enCORE writes it (and the public GE Lunar extractor reads it): the region is the
    TEXT of `TREND_ROI`, the `EXAM` elements are its siblings inside `TREND` (a previous
    exam first, the current one last); decimal commas, M/D/YYYY dates.
    """
    day: date = exam["exam_date"]
    prev = date(day.year - 1, day.month, min(day.day, 28))
    body = "".join(
        f"<SCAN type={quoteattr(scan)}><TREND><TREND_ROI>{escape(region)}</TREND_ROI>"
        f"<BASELINE_EXAM_DATE>{prev.month}/{prev.day}/{prev.year}</BASELINE_EXAM_DATE>"
        f"{_trend_exam(prev, values, 1.0)}{_trend_exam(day, values, 0.0)}</TREND></SCAN>"
        for scan, region, values in _rois(exam, other_hip)
    )
    return (
        f"<DENSITOMETRY_RESULTS><CURRENT_EXAM>{body}</CURRENT_EXAM>"
        f"{_frax_xml(exam)}</DENSITOMETRY_RESULTS>"
    )


def new_xml(exam: dict, other_hip: bool, milligrams: bool) -> str:
    """`DXA_RESULTS`: ROI elements, a TREND with the current exam first."""
    day: date = exam["exam_date"]
    scans: dict[str, list[str]] = {}
    for scan, region, v in _rois(exam, other_hip):
        parts = []
        if v["bmd"] is not None:
            bmd = v["bmd"] * 1000 if milligrams else v["bmd"]
            parts.append(f"<BMD>{_num(bmd, 1 if milligrams else 3)}</BMD>")
        parts.append(f"<BMD_TSCORE>{_num(v['t'], 1)}</BMD_TSCORE>")
        if v["z"] is not None:
            parts.append(f"<BMD_ZSCORE>{_num(v['z'], 1)}</BMD_ZSCORE>")
        trend = (
            f"<TREND region={quoteattr(region)}>"
            f"<EXAM date=\"{day:%m/%d/%Y}\"><BMD>{_num(v['bmd'] or 0, 3)}</BMD></EXAM>"
            f"<EXAM date=\"{day.month:02d}/{day.day:02d}/{day.year - 1}\"><BMD>0.500</BMD></EXAM>"
            "</TREND>"
        )
        scans.setdefault(scan, []).append(
            f"<ROI region={quoteattr(region)}>{''.join(parts)}</ROI>{trend}"
        )
    body = "".join(f"<SCAN type={quoteattr(s)}>{''.join(r)}</SCAN>" for s, r in scans.items())
    return f"<DXA_RESULTS>{body}{_frax_xml(exam)}</DXA_RESULTS>"


def _code(meaning: str) -> Sequence:
    item = Dataset()
    item.CodeValue = meaning.upper().replace(" ", "_")[:16]
    item.CodingSchemeDesignator = "99GELUNAR"
    item.CodeMeaning = meaning
    return Sequence([item])


def _container(name: str, children: list[Dataset]) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "CONTAINER"
    item.ConceptNameCodeSequence = _code(name)
    item.ContinuityOfContent = "SEPARATE"
    item.ContentSequence = Sequence(children)
    return item


def _num_item(name: str, value: float, unit: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "NUM"
    item.ConceptNameCodeSequence = _code(name)
    measured = Dataset()
    measured.NumericValue = f"{value:.4g}" if unit == "g/cm2" else f"{value:.1f}"
    measured.MeasurementUnitsCodeSequence = _code(unit)
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _text_item(name: str, value: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = _code(name)
    item.TextValue = value
    return item


def sr_content(exam: dict, other_hip: bool, comma: bool) -> Sequence:
    """The SR content tree: AP Spine / DualFemur / Forearm / FRAX containers."""
    groups: dict[str, list[Dataset]] = {}
    for scan, region, v in _rois(exam, other_hip):
        if "Femur" in scan:
            side = scan.split()[0]
            container = "DualFemur"
            name = region if region in ("Upper Neck", "Neck Mean") else f"{region} {side}"
            if region == "Upper Neck":
                name = f"Upper Neck {side}"
        elif scan == "DualFemur":
            container, name = "DualFemur", region
        else:
            container, name = ("AP Spine" if "Spine" in scan else "Forearm"), region
        items = []
        if v["bmd"] is not None:
            items.append(_num_item("BMD", v["bmd"], "g/cm2"))
        items.append(_text_item("BMD_TSCORE", _num(v["t"], 1, comma)))
        if v["z"] is not None:
            items.append(_text_item("BMD_ZSCORE", _num(v["z"], 1, comma)))
        groups.setdefault(container, []).append(_container(name, items))
    tree = [_container(name, children) for name, children in groups.items()]
    if exam["frax_major_pct"] is not None:
        tree.append(_container("FRAX", [
            _num_item("Major Osteoporotic Fracture Probability", exam["frax_major_pct"], "%"),
            _num_item("Hip Fracture Probability", exam["frax_hip_pct"], "%"),
        ]))
    return Sequence(tree)


def lunar_dataset(exam: dict, variant: str, other_hip: bool, index: int) -> Dataset:
    """One DICOM dataset (with file meta) for one canonical exam."""
    sop_class = _ENHANCED_SR if variant == "sr" else _SECONDARY_CAPTURE
    seed_text = [str(exam["exam_id"]), variant]
    sop_uid = generate_uid(entropy_srcs=[*seed_text, "sop"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[*seed_text, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[*seed_text, "series"])
    ds.Modality = "SR" if variant == "sr" else "OT"
    ds.Manufacturer = "GE Healthcare"
    ds.ManufacturerModelName = exam["scanner_model"] or ""
    ds.DeviceSerialNumber = exam["scanner_serial"] or ""
    ds.PatientID = exam["patient_id"]
    ds.PatientName = f"SYNTHETIC^{index}"
    ds.PatientSex = exam["sex"] or ""
    if exam["birth_date"] is not None:
        ds.PatientBirthDate = exam["birth_date"].strftime("%Y%m%d")
    if exam["age_years"] is not None:
        ds.PatientAge = f"{int(exam['age_years']):03d}Y"
    if exam["height_cm"] is not None:
        ds.PatientSize = f"{exam['height_cm'] / 100:.3f}"
    if exam["weight_kg"] is not None:
        ds.PatientWeight = f"{exam['weight_kg']:.1f}"
    ds.StudyDate = exam["exam_date"].strftime("%Y%m%d")
    ds.ContentDate = ds.StudyDate
    ds.AccessionNumber = f"A{index:06d}"
    if variant == "xml_old":
        ds.ImageComments = old_xml(exam, other_hip)
    elif variant == "xml_new":
        ds.ImageComments = new_xml(exam, other_hip, milligrams=index % 2 == 1)
    else:
        ds.ValueType = "CONTAINER"
        ds.ConceptNameCodeSequence = _code("DXA Report")
        ds.ContinuityOfContent = "SEPARATE"
        ds.ContentSequence = sr_content(exam, other_hip, comma=index % 2 == 1)
    return ds


def lunar_twin(frame: pl.DataFrame) -> pl.DataFrame:
    """The GE Lunar exams of `frame` as the DICOM files carry them: the canonical twin.

    exam_id is the adapter's `LUNAR-{serial}-{PatientID}-{StudyDate}`; the header gives
    patient, sex, birth date, age, height, weight, scanner model and serial; the results
    give each site present (a spine without vertebra count is written as L1-L4, a hip
    without side as the left femur; total hip only with its T) and FRAX. BMI, menopausal
    status, the risk-factor questionnaire and treatment are not in these files (null).
    """
    exams = frame.filter(pl.col("scanner_manufacturer") == "GE Lunar")
    spine = pl.col("spine_t").is_not_null()
    hip = pl.col("femoral_neck_t").is_not_null()
    total = hip & pl.col("total_hip_t").is_not_null()
    radius = pl.col("radius_33_t").is_not_null()
    frax = pl.col("frax_major_pct").is_not_null()

    twin = exams.select(
        pl.format("LUNAR-{}-{}-{}", pl.col("scanner_serial").fill_null("unknown"),
                  pl.col("patient_id"), pl.col("exam_date").dt.to_string("%Y%m%d"))
        .alias("exam_id"),
        "patient_id", "exam_date", "birth_date", "age_years", "sex",
        pl.col("height_cm").round(1), pl.col("weight_kg").round(1),
        "scanner_manufacturer", "scanner_model", "scanner_serial",
        *site_columns(spine, hip, total, radius, hip_side="left"),
        kept(frax, "frax_major_pct", 1), kept(frax, "frax_hip_pct", 1),
    )
    return as_canonical(twin)


def write_lunar_dicoms(
    frame: pl.DataFrame, folder: Path, variant: str = "mixed", seed: int = 0
) -> tuple[pl.DataFrame, list[Path]]:
    """Write one DICOM file per GE Lunar exam of `frame`; return (canonical twin, paths).

    The twin (`lunar_twin`) holds the exams as the files carry them, in file order.
    """
    if variant not in (*VARIANTS, "mixed"):
        raise ValueError(f"variant must be one of {VARIANTS} or 'mixed'")
    folder.mkdir(parents=True, exist_ok=True)
    exams = frame.filter(pl.col("scanner_manufacturer") == "GE Lunar")
    other = exams.with_row_index("_i").select(
        Rng(seed, pl.col("_i").cast(pl.UInt64)).uniform("lunar_other_hip") < 0.3
    ).to_series()
    paths = []
    for index, (exam, other_hip) in enumerate(
        zip(exams.to_dicts(), other.to_list(), strict=True)
    ):
        kind = VARIANTS[index % 3] if variant == "mixed" else variant
        path = folder / f"{index + 1:04d}_{kind}.dcm"
        lunar_dataset(exam, kind, bool(other_hip), index).save_as(
            path, enforce_file_format=True
        )
        paths.append(path)
    return lunar_twin(exams), paths


def main(argv: list[str] | None = None) -> None:
    """`python -m samplegen.lunar FOLDER [--exams N] [--seed S] [--variant V]`."""
    import argparse

    from samplegen.canonical import generate_exams

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--exams", type=int, default=40, help="canonical exams to draw")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--variant", default="mixed", choices=[*VARIANTS, "mixed"])
    args = parser.parse_args(argv)
    exams = generate_exams(args.exams, args.seed)
    _twin, paths = write_lunar_dicoms(exams, args.folder, args.variant, args.seed)
    print(f"{len(paths)} GE Lunar DICOM files -> {args.folder}")


if __name__ == "__main__":
    main()
