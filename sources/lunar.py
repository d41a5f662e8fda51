"""GE Lunar enCORE DICOM files: one file = one exam (`rows_read` 1).

Supported structures (read with pydicom, pixel data never loaded):

* ImageComments (0020,4000) holding XML, root `DENSITOMETRY_RESULTS` (older):
  `CURRENT_EXAM` > `SCAN type="AP Spine" | "Left Femur" | "Right Femur" |
  "Left Forearm" | ...` > `TREND` > `TREND_ROI` whose TEXT names the region (`L1-L4`,
  `Neck`, `Total`, `Radius 33%`) and, as its siblings inside `TREND`, a list of `EXAM`
  elements (`EXAM_DATE` M/D/YYYY, `BMD`, `YAT` = T, `AMZ` = Z); the current exam is the
  LAST `EXAM`. Every `TREND` of every `SCAN` is read (a scan type may repeat, one
  `TREND` per region).
* ImageComments XML, root `DXA_RESULTS` (newer): `SCAN type=...` > `ROI region="..."`
  with `BMD`, `BMD_TSCORE`, `BMD_ZSCORE` (the current values; `TREND` > `EXAM`, current
  first, is history and not read).
* A structured report: ContentSequence containers (concept name) `AP Spine` > `L1-L4`
  ..., `DualFemur` (or `Left Femur` / `Right Femur`) > `Neck Left`, `Total Right`, ...,
  forearm > `Radius 33%`; items `BMD`, `BMD_TSCORE`, `BMD_ZSCORE` as NUM or TEXT.
* FRAX: an SR container `FRAX` (at any depth of the content tree), or a `FRAX` element
  anywhere in either XML, whose items name `Major ...` and `Hip ...` 10-year
  probabilities (percent).

Quirks handled: decimal commas (`1,023`); BMD above 10 is mg/cm2 (divided by 1000);
ROI `Neck` matches `Neck`, `Neck Left`, `Neck Right` but never `Upper Neck` or
`Neck Mean` (likewise `Total Mean`); several lumbar ranges: `L1-L4` if present, else the
widest (then the lowest), vertebra count from the range; both femurs: the hip whose lower
of (neck T, total hip T) is lower is kept (ties: left), `hip_side` says which.

From the header: PatientID, PatientSex, PatientBirthDate, PatientAge (`078Y`),
PatientSize (m -> cm), PatientWeight, StudyDate, DeviceSerialNumber (0018,1000),
ManufacturerModelName. exam_id = `LUNAR-{serial}-{PatientID}-{StudyDate}`.

A file pydicom cannot read (truncated, not DICOM) is a FileProblem; so is a DICOM file
without Lunar results (no results XML and no SR content). Results that are present but
map to no site give an exam row without scores, which validation quarantines.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl

from schemas.errors import FileProblem
from sources.base import GE_LUNAR_DICOM, ReadOptions, SourceFile, fingerprint
from sources.vendor_units import bmd_g_cm2_text, iso_text, number, number_text, vendor_date
from transforms.columns import RAW, ROW_NUMBER

VENDOR = "GE Lunar"
_MAGIC_OFFSET = 128

#: (scan, region, measure, value) records taken from one file.
Record = tuple[str, str, str, str]


def sniff(path: Path) -> str | None:
    """None for a DICOM file (`.dcm`, or `DICM` at byte 128)."""
    if path.is_dir():
        return "a folder (DICOM files are read one by one)"
    if not path.is_file():
        return "not a file"
    if path.suffix.lower() == ".dcm":
        return None
    with path.open("rb") as handle:
        head = handle.read(_MAGIC_OFFSET + 4)
    if head[_MAGIC_OFFSET:] == b"DICM":
        return None
    return "not a DICOM file (no .dcm suffix, no DICM magic at byte 128)"


# --- results from XML -------------------------------------------------------------------

_MEASURES = {
    "BMD": "bmd", "YAT": "t", "AMZ": "z", "BMD_TSCORE": "t", "BMD_ZSCORE": "z",
    "TSCORE": "t", "ZSCORE": "z", "T_SCORE": "t", "Z_SCORE": "z",
}


def _name(element: ET.Element) -> str:
    for key in ("region", "name", "type", "REGION", "NAME"):
        if element.get(key):
            return element.get(key, "").strip()
    return ""


def _frax_records(root: ET.Element) -> list[Record]:
    out: list[Record] = []
    for frax in root.iter("FRAX"):
        for item in frax:
            label = (_name(item) or item.tag).upper()
            value = (item.text or "").strip()
            if "MAJOR" in label:
                out.append(("FRAX", "", "frax_major", value))
            elif "HIP" in label:
                out.append(("FRAX", "", "frax_hip", value))
    return out


def _values(scan: str, region: str, values: ET.Element) -> list[Record]:
    """The BMD / T / Z children of one element holding a region's current values."""
    out: list[Record] = []
    for child in values:
        measure = _MEASURES.get(child.tag.upper())
        if measure:
            out.append((scan, region, measure, (child.text or "").strip()))
    return out


def _trend_records(root: ET.Element) -> list[Record]:
    """`DENSITOMETRY_RESULTS`: `TREND` > `TREND_ROI` (region as text) + `EXAM` siblings.

    The region is the text of `TREND_ROI`, not an attribute, and the exams are siblings
    of `TREND_ROI` inside `TREND` (the structure the public GE Lunar extractor reads);
    the current exam is the last one, the earlier ones are history.
    """
    out: list[Record] = []
    for scan in root.iter("SCAN"):
        for trend in scan.findall("TREND"):
            roi = trend.find("TREND_ROI")
            exams = trend.findall("EXAM")
            if roi is None or not exams:
                continue
            out += _values(_name(scan), (roi.text or "").strip(), exams[-1])
    return out


def _roi_records(root: ET.Element) -> list[Record]:
    """`DXA_RESULTS`: `SCAN` > `ROI region=...` holds the current values."""
    out: list[Record] = []
    for scan in root.iter("SCAN"):
        for roi in scan.findall("ROI"):
            out += _values(_name(scan), _name(roi), roi)
    return out


def _xml_records(root: ET.Element) -> list[Record]:
    if root.tag == "DENSITOMETRY_RESULTS":
        return _trend_records(root) + _frax_records(root)
    return _roi_records(root) + _frax_records(root)


# --- results from a structured report ---------------------------------------------------


def _concept(item: Any) -> str:
    seq = item.get("ConceptNameCodeSequence")
    return str(seq[0].get("CodeMeaning", "")).strip() if seq else ""


def _item_value(item: Any) -> str:
    kind = item.get("ValueType", "")
    if kind == "NUM":
        measured = item.get("MeasuredValueSequence")
        return str(measured[0].get("NumericValue", "")).strip() if measured else ""
    return str(item.get("TextValue", "")).strip()


def _sr_records(dataset: Any) -> list[Record]:
    out: list[Record] = []

    def walk(items: Any, path: list[str]) -> None:
        for item in items:
            name = _concept(item)
            if item.get("ValueType", "") == "CONTAINER":
                walk(item.get("ContentSequence", []), [*path, name])
                continue
            if any(part.upper() == "FRAX" for part in path):  # FRAX nests at any depth
                label = name.upper()
                if "MAJOR" in label:
                    out.append(("FRAX", "", "frax_major", _item_value(item)))
                elif "HIP" in label:
                    out.append(("FRAX", "", "frax_hip", _item_value(item)))
                continue
            measure = _MEASURES.get(name.upper())
            if measure and len(path) >= 2:
                out.append((path[-2], path[-1], measure, _item_value(item)))

    walk(dataset.get("ContentSequence", []), [])
    return out


def _records(dataset: Any) -> tuple[list[Record], str]:
    comments = str(dataset.get("ImageComments", "") or "").strip()
    if comments.startswith("<"):
        try:
            root = ET.fromstring(comments)
        except ET.ParseError:
            raise FileProblem("ImageComments XML is not well-formed") from None
        if root.tag in ("DENSITOMETRY_RESULTS", "DXA_RESULTS"):
            return _xml_records(root), f"ImageComments {root.tag}"
    if dataset.get("ContentSequence"):
        return _sr_records(dataset), "structured report"
    raise FileProblem(
        "DICOM file holds no GE Lunar results (no results XML in ImageComments, "
        "no structured report content)"
    )


# --- records -> one exam row ------------------------------------------------------------

_LUMBAR = r"^L(\d)(?:\s*-\s*L(\d))?$"


def _site_frame(records: list[Record]) -> pl.DataFrame:
    """Long records -> site, side, measure, value (vectorised rules)."""
    frame = pl.DataFrame(
        records, schema=["scan", "region", "measure", "value"], orient="row"
    ).with_columns(pl.col("scan", "region").str.strip_chars())
    scan = pl.col("scan").str.to_lowercase()
    region = pl.col("region").str.to_lowercase().str.replace_all(r"\s+", " ")
    side_in_region = region.str.extract(r"^(?:neck|total) (left|right)$", 1)
    side_in_scan = scan.str.extract(r"\b(left|right)\b", 1)
    femur = scan.str.contains("femur")
    frame = frame.with_columns(
        _first=pl.col("region").str.extract(_LUMBAR, 1).cast(pl.Int64),
        _last=pl.coalesce(
            pl.col("region").str.extract(_LUMBAR, 2), pl.col("region").str.extract(_LUMBAR, 1)
        ).cast(pl.Int64),
    )
    frame = frame.with_columns(
        site=pl.when(pl.col("scan") == "FRAX")
        .then(pl.lit("frax"))
        .when(scan.str.contains("spine") & pl.col("_first").is_not_null())
        .then(pl.lit("spine"))
        .when(femur & region.is_in(["neck", "neck left", "neck right"]))
        .then(pl.lit("femoral_neck"))
        .when(femur & region.is_in(["total", "total left", "total right"]))
        .then(pl.lit("total_hip"))
        .when(scan.str.contains("forearm|radius") & region.str.contains(r"^(radius )?33 ?%$"))
        .then(pl.lit("radius_33")),
        side=pl.coalesce(side_in_region, side_in_scan),
        vertebrae=pl.col("_last") - pl.col("_first") + 1,
    )
    return frame.filter(pl.col("site").is_not_null())


def _exam_cells(records: list[Record]) -> dict[str, str | None]:
    sites = _site_frame(records)
    cells: dict[str, str | None] = {}
    frax = sites.filter(pl.col("site") == "frax")
    for measure, column in (("frax_major", "frax_major_pct"), ("frax_hip", "frax_hip_pct")):
        value = frax.filter(pl.col("measure") == measure)["value"]
        if value.len():
            cells[column] = value.to_frame().select(number_text(pl.col("value")))[0, 0]
    # spine: L1-L4 if present, else the widest range (then the lowest)
    spine = sites.filter(pl.col("site") == "spine")
    if spine.height:
        best = spine.sort(
            [(pl.col("_first") == 1) & (pl.col("_last") == 4), "vertebrae", "_first"],
            descending=[True, True, False],
        ).row(0, named=True)
        chosen = spine.filter(pl.col("region") == best["region"])
        cells |= _measures(chosen, "spine")
        cells["spine_vertebrae"] = str(best["vertebrae"])
    # hips: per side; keep the side with the lower T
    hips = sites.filter(pl.col("site").is_in(["femoral_neck", "total_hip"]))
    if hips.height:
        lowest = (
            hips.filter(pl.col("measure") == "t")
            .group_by("side")
            .agg(t=number(pl.col("value")).min())
            .sort(["t", "side"], nulls_last=True)
        )
        side = lowest["side"][0] if lowest.height else hips["side"][0]
        kept = hips.filter(pl.col("side").eq_missing(side))
        cells |= _measures(kept.filter(pl.col("site") == "femoral_neck"), "femoral_neck")
        cells |= _measures(kept.filter(pl.col("site") == "total_hip"), "total_hip")
        cells["hip_side"] = side
        if hips["side"].n_unique() > 1:
            cells["_both_hips"] = "1"
    radius = sites.filter(pl.col("site") == "radius_33")
    if radius.height:
        cells |= _measures(radius, "radius_33")
    return cells


def _measures(frame: pl.DataFrame, site: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    values = frame.unique(subset="measure", keep="first", maintain_order=True).select(
        "measure",
        value=pl.when(pl.col("measure") == "bmd")
        .then(bmd_g_cm2_text(pl.col("value")))
        .otherwise(number_text(pl.col("value"))),
    )
    for measure, value in zip(values["measure"], values["value"], strict=True):
        out[f"{site}_{measure}"] = value or None
    return out


def _text(dataset: Any, keyword: str) -> str | None:
    value = dataset.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _header_cells(dataset: Any, options: ReadOptions) -> dict[str, str | None]:
    serial = _text(dataset, "DeviceSerialNumber")
    patient = _text(dataset, "PatientID")
    study = _text(dataset, "StudyDate")
    sex = (_text(dataset, "PatientSex") or "").upper() or None
    age = _text(dataset, "PatientAge")
    size = _text(dataset, "PatientSize")
    weight = _text(dataset, "PatientWeight")
    return {
        "exam_id": f"LUNAR-{serial or 'unknown'}-{patient or 'unknown'}-{study or 'unknown'}",
        "patient_id": patient,
        "exam_date": study,
        "birth_date": _text(dataset, "PatientBirthDate"),
        "age_years": age,
        "sex": sex,
        "height_cm": size,
        "weight_kg": weight,
        "scanner_manufacturer": VENDOR,
        "scanner_model": _text(dataset, "ManufacturerModelName"),
        "scanner_serial": serial,
    }


_UNDEFINED_LENGTH = 0xFFFFFFFF


def _check_complete(dataset: Any) -> None:
    """pydicom reads a truncated file without complaint: check the raw element lengths."""
    if len(dataset) == 0:
        raise FileProblem("not a readable DICOM file: no data elements (truncated?)")
    for tag in dataset.keys():  # noqa: SIM118 (iterating a Dataset converts elements)
        element = dataset.get_item(tag)
        length = getattr(element, "length", None)
        value = getattr(element, "value", None)
        if (
            isinstance(value, bytes)
            and length is not None
            and length != _UNDEFINED_LENGTH
            and len(value) < length
        ):
            raise FileProblem(f"not a readable DICOM file: truncated in element {tag}")


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read one GE Lunar DICOM file into one exam row of canonical text cells."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    options = options or ReadOptions()
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        _check_complete(dataset)
        dataset.decode()
        header = _header_cells(dataset, options)
        records, origin = _records(dataset)
    except FileProblem:
        raise
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, AttributeError,
            IndexError, RuntimeError) as exc:
        raise FileProblem(f"not a readable DICOM file: {type(exc).__name__}") from None
    cells = header | _exam_cells(records)
    both = cells.pop("_both_hips", None)
    row = pl.DataFrame([cells], schema={k: pl.String for k in cells})
    row = row.with_columns(
        exam_date=pl.coalesce(iso_text(vendor_date(pl.col("exam_date"))), pl.col("exam_date")),
        birth_date=pl.coalesce(
            iso_text(vendor_date(pl.col("birth_date"))), pl.col("birth_date")
        ),
        age_years=pl.coalesce(
            pl.col("age_years").str.extract(r"^0*(\d+)Y$", 1), pl.col("age_years")
        ),
        height_cm=pl.coalesce(
            (number(pl.col("height_cm")) * 100).round(1).cast(pl.String), pl.col("height_cm")
        ),
    )
    raw = json.dumps({"results": origin, **row.row(0, named=True)}, default=str)
    row = row.with_columns(
        pl.lit(1, dtype=pl.Int64).alias(ROW_NUMBER), pl.lit(raw).alias(RAW)
    )
    notes = [f"results from {origin}"]
    if both:
        notes.append("both hips scanned: kept the hip with the lower T-score")
    return SourceFile(
        path=path,
        sha256=fingerprint(path),
        source_format=GE_LUNAR_DICOM,
        vendor=VENDOR,
        cells=row,
        notes=notes,
    )
