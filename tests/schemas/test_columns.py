"""One table of canonical columns: the pandera model, the parser, the loader and the
migrations' `exams` table all agree with `schemas.columns`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.registry.reads import EXAM_COLUMNS
from pipelines.registry.store import registry
from samplegen.canonical import SITES as SAMPLE_DRAW_ORDER
from schemas.columns import BY_NAME, CANONICAL_COLUMNS, COLUMNS, SITES
from schemas.exam import CanonicalExam
from transforms.measurements import to_measurements
from transforms.parse import parse_cells
from transforms.rules.names import SITE_ORDER

#: Columns the loader adds to every exam (where it came from).
BOOKKEEPING = {"source_format": "VARCHAR", "vendor": "VARCHAR", "file_sha256": "VARCHAR",
               "source_row_number": "BIGINT", "run_id": "VARCHAR"}


def test_the_exams_table_of_the_migrations_matches_the_column_table(tmp_path: Path) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        described = con.execute("DESCRIBE exams").fetchall()
    table = {name: (kind, null) for name, kind, null, *_ in described}
    expected = {c.name: (c.sql_type, "NO" if c.required else "YES") for c in COLUMNS}
    assert {n: v for n, v in table.items() if n not in BOOKKEEPING} == expected
    assert {n: table[n][0] for n in BOOKKEEPING} == BOOKKEEPING


def test_the_model_and_the_parser_are_built_from_the_table() -> None:
    assert list(CanonicalExam.columns) == [c.name for c in COLUMNS]
    for column in COLUMNS:
        model = CanonicalExam.columns[column.name]
        assert model.nullable is (not column.required), column.name
        assert model.dtype.type == column.dtype, column.name
    parsed = parse_cells(pl.DataFrame({"_row_number": [1]}))
    assert {n: parsed.schema[n] for n in CANONICAL_COLUMNS} == {c.name: c.dtype for c in COLUMNS}
    assert list(CANONICAL_COLUMNS) == EXAM_COLUMNS


def test_every_site_has_its_columns_and_every_site_list_is_the_one_tuple() -> None:
    for site in SITES:
        assert {f"{site}_bmd", f"{site}_t", f"{site}_z"} <= set(BY_NAME)
    # orders of their own (a clinical tie-break, the generator's draw order), same sites
    assert sorted(SITE_ORDER) == sorted(SITES) == sorted(SAMPLE_DRAW_ORDER)
    exams = parse_cells(pl.DataFrame({"_row_number": [1], "exam_id": ["E"],
                                      **{f"{s}_t": ["-1"] for s in SITES}}))
    assert to_measurements(exams)["site"].to_list() == list(SITES)
