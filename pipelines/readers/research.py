"""`dxa export research`: a pseudonymised extract of exams, assessments and BMD changes.

Researchers get the registry's measurements and decisions without its identifiers:
- `patient_id`, `exam_id` and `prior_exam_id` are replaced by HMAC-SHA256 pseudonyms
  (`patient_pseudonym`, `exam_pseudonym`, `prior_exam_pseudonym`) under a secret key kept
  in a file outside the registry. The same key gives the same pseudonym, so extracts made
  months apart link; without the key nobody can go from a pseudonym back to an id or
  test a guessed id (a plain hash of an id could be recomputed from a list of ids).
- `birth_date` becomes `birth_year`.
- Text columns are kept only when they hold codes (sex, site, category, ...); any other
  text (file hashes, run ids, and any free-text column a future version adds) is dropped,
  as are dates other than exam and due dates and the source row numbers.

HMAC (RFC 2104) is computed by DuckDB's `sha256` over the whole table in one statement:
H((K xor opad) || H((K xor ipad) || message)), with the padded key blocks passed as query
parameters, never written into SQL text, the files or a log. Each id is prefixed with its
kind (`patient:`, `exam:`) so a patient and an exam that share an id string still get
different pseudonyms.

Each file is written private (0600) under a temporary name, and the files are renamed
into place only once every one of them is written (`pipelines.runtime.export_files`).
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from pathlib import Path

import duckdb

from pipelines.readers.access import reading, source_encrypted
from pipelines.readers.as_of import as_of_date
from pipelines.readers.worklists import WorklistError, resolve_ruleset_label
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S
from pipelines.registry.scratch import copy_to_parquet
from pipelines.registry.staging import sql_string
from pipelines.runtime.export_files import private_output

#: Shortest key accepted: 32 bytes (256 bits), written as 64 hexadecimal characters.
KEY_MIN_BYTES = 32
_BLOCK = 64  # SHA-256 block size in bytes

#: Tables in the extract: file suffix and the registry table.
TABLES = ("exams", "assessments", "bmd_changes")
#: Identifier columns and the kind of id they hold.
IDENTIFIERS = {"patient_id": "patient", "exam_id": "exam", "prior_exam_id": "exam"}
#: Text columns that hold codes from a closed vocabulary (kept).
CODED_TEXT = frozenset({
    "sex", "menopausal_status", "scanner_manufacturer", "scanner_model", "scanner_serial",
    "hip_side", "prior_fracture_sites", "source_format", "vendor", "ruleset", "basis",
    "diagnostic_site", "who_category", "z_category", "treatment", "first_line_therapy",
    "site", "direction", "comparison", "lsc_source",
})
#: Dates kept as dates (the exam's own date and the dates the rules derive from it).
KEPT_DATES = frozenset({"exam_date", "next_dxa_due"})
#: Provenance that points back at source files and rows.
DROPPED = frozenset({"source_row_number", "file_sha256", "run_id"})


class ResearchExportError(WorklistError):
    """The extract cannot be made; the message names the option or file and says why."""


def read_key(path: Path) -> bytes:
    """The secret key: a file holding at least 64 hexadecimal characters (32 bytes)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ResearchExportError(f"--pseudonym-key {path}: no such file (make one: see the "
                                  "README, 'Research extracts')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResearchExportError(f"--pseudonym-key {path}: cannot read it "
                                  f"({type(exc).__name__})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ResearchExportError(f"--pseudonym-key {path}: must hold the key as hexadecimal "
                                  "characters only") from None
    if len(key) < KEY_MIN_BYTES:
        raise ResearchExportError(f"--pseudonym-key {path}: the key has {len(key)} bytes; at "
                                  f"least {KEY_MIN_BYTES} are needed ({2 * KEY_MIN_BYTES} "
                                  "hexadecimal characters)")
    return key


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The inner and outer key blocks of HMAC-SHA256 (RFC 2104), as query parameters."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def pseudonym_sql(column: str, kind: str) -> str:
    """SQL for the hex HMAC-SHA256 of `kind:` + the column's value (null stays null)."""
    message = f"encode('{kind}:' || {column})"
    return f"sha256($opad || unhex(sha256($ipad || {message})))"


def extract_columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[str]]:
    """(SELECT expressions, dropped column names) of a table for the extract."""
    selected, dropped = [], []
    for name, dtype in con.sql(f"SELECT column_name, column_type FROM (DESCRIBE {table})"
                               ).fetchall():
        if name in IDENTIFIERS:
            alias = name.removesuffix("_id") + "_pseudonym"
            selected.append(f"{pseudonym_sql(name, IDENTIFIERS[name])} AS {alias}")
        elif name == "birth_date":
            selected.append("CAST(year(birth_date) AS SMALLINT) AS birth_year")
        elif name in DROPPED or (dtype == "VARCHAR" and name not in CODED_TEXT) or (
                dtype in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
                and name not in KEPT_DATES):
            dropped.append(name)
        else:
            selected.append(name)
    return selected, dropped


def extract_paths(output: Path) -> dict[str, Path]:
    """`extract.parquet` -> `extract.exams.parquet`, `extract.assessments.parquet`, ..."""
    if output.suffix.lower() != ".parquet":
        raise ResearchExportError(f"--output {output}: give a name ending in .parquet; the "
                                  "extract is one file per table beside it")
    return {table: output.with_name(f"{output.stem}.{table}.parquet") for table in TABLES}


def _filters(as_of: str | None, ruleset: str | None) -> dict[str, str]:
    """WHERE clauses per table: exams up to the as-of date, one ruleset if asked."""
    exams = "exam_date <= $as_of" if as_of else "true"
    in_exams = f"exam_id IN (SELECT exam_id FROM exams WHERE {exams})"
    return {
        "exams": exams,
        "assessments": in_exams + (" AND ruleset = $ruleset" if ruleset else ""),
        "bmd_changes": in_exams,
    }


def write_research_extract(
    con: duckdb.DuckDBPyConnection, key: bytes, output: Path, *,
    as_of: str | None = None, ruleset: str | None = None,
) -> dict[str, int]:
    """Write one parquet file per table; return the row count of each."""
    paths = extract_paths(output)
    if not output.parent.is_dir():
        raise ResearchExportError(f"--output {output}: no folder {output.parent}")
    params: dict[str, object] = hmac_pads(key)
    if as_of:
        params["as_of"] = as_of
    if ruleset:
        params["ruleset"] = ruleset
    filters = _filters(as_of, ruleset)
    counts = {}
    with ExitStack() as files:  # each file private, renamed into place once all are written
        for table, path in paths.items():
            temporary = files.enter_context(private_output(path))
            selected, dropped = extract_columns(con, table)
            note = ("pseudonyms: HMAC-SHA256 under the registry's research key; birth dates "
                    f"as years; dropped: {', '.join(dropped) or 'none'}")
            used = {k: v for k, v in params.items()
                    if f"${k}" in " ".join(selected) + filters[table]}
            copy_to_parquet(
                con, f"SELECT {', '.join(selected)} FROM {table} WHERE {filters[table]}",
                temporary, used, {"dxa_extract": note,
                                  "dxa_registry_encrypted": source_encrypted(con)})
            counts[table] = con.sql(
                f"SELECT count(*) FROM read_parquet({sql_string(str(temporary))})"
            ).fetchall()[0][0]
    return counts


def export_research(
    db: Path, key_file: Path | None, output: Path, *, as_of: str | None = None,
    ruleset: str | None = None, lock_timeout_s: float = READ_LOCK_TIMEOUT_S,
) -> dict[str, int]:
    """`dxa export research`: check the options, open the registry, write the extract."""
    if key_file is None:
        raise ResearchExportError("research extracts need --pseudonym-key (the secret key that "
                                  "makes the pseudonyms; see the README)")
    key = read_key(key_file)
    extract_paths(output)
    day = as_of_date(as_of, WorklistError).isoformat() if as_of else None
    with reading(db, lock_timeout_s, WorklistError) as con:
        label = resolve_ruleset_label(con, ruleset) if ruleset else None
        return write_research_extract(con, key, output, as_of=day, ruleset=label)
