"""The precision configuration behind every LSC verdict (clinical-rules.md §7, CHG-LSC)."""

from __future__ import annotations

import pickle
from pathlib import Path

import polars as pl
import pytest
from precision_files import write_precision

from transforms.precision import (
    DEFAULT_PRECISION_PATH,
    PrecisionError,
    PrecisionTable,
    load_precision,
)


def test_shipped_defaults(default: PrecisionTable) -> None:
    assert DEFAULT_PRECISION_PATH.is_file()
    assert DEFAULT_PRECISION_PATH.parent.name == "config"
    assert dict(default.defaults) == {"spine": 1.9, "total_hip": 1.8, "femoral_neck": 2.5}
    assert default.precision("radius_33") is None
    assert default.lsc("radius_33") is None
    assert default.lsc("spine") == pytest.approx(5.263)
    assert default.as_frame().to_dicts() == [
        {"scanner_serial": None, "site": "spine", "precision_pct": 1.9},
        {"scanner_serial": None, "site": "femoral_neck", "precision_pct": 2.5},
        {"scanner_serial": None, "site": "total_hip", "precision_pct": 1.8},
    ]  # in the contract's site order (schemas.columns.SITES)


def test_scanner_override_and_fallback(tmp_path: Path) -> None:
    table = load_precision(
        write_precision(
            tmp_path, '[default]\nspine = 1.9\n[scanner."HZ-100"]\nspine = 1.2\nradius_33 = 1\n'
        )
    )
    assert table.precision("spine", "HZ-100") == 1.2
    assert table.precision("spine", "OTHER") == 1.9
    assert table.precision("radius_33", "HZ-100") == 1.0
    assert table.precision("radius_33", "OTHER") is None
    assert table.as_frame().to_dicts() == [
        {"scanner_serial": None, "site": "spine", "precision_pct": 1.9},
        {"scanner_serial": "HZ-100", "site": "spine", "precision_pct": 1.2},
        {"scanner_serial": "HZ-100", "site": "radius_33", "precision_pct": 1.0},
    ]
    assert table.as_frame().schema == pl.Schema(
        {"scanner_serial": pl.String, "site": pl.String, "precision_pct": pl.Float64}
    )
    copy = pickle.loads(pickle.dumps(table))  # how a run's settings reach another process
    assert copy == table
    assert copy.precision("spine", "HZ-100") == 1.2
    assert copy.as_frame().equals(table.as_frame())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[default]\nhip = 1.8\n", "default.hip"),
        ("[default]\nspine = 0\n", "default.spine"),
        ("[default]\nspine = -1.0\n", "default.spine"),
        ("[default]\nspine = 20.5\n", "default.spine"),
        ("[default]\nspine = true\n", "default.spine"),
        ("[default]\nspine = \"1.9\"\n", "default.spine"),
        ('[scanner."HZ-100"]\nneck = 2.0\n', 'scanner."HZ-100".neck'),
        ('[scanner."HZ-100"]\nspine = 25\n', 'scanner."HZ-100".spine'),
        ("[defaults]\nspine = 1.9\n", "defaults"),
        ("scanner = 3\n", "scanner"),
        ("default = 1.9\n", "default"),
    ],
)
def test_precision_validation_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write_precision(tmp_path, text)
    with pytest.raises(PrecisionError) as info:
        load_precision(path)
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_precision_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = write_precision(tmp_path, "[default\nspine = 1.9\n")
    with pytest.raises(PrecisionError, match=r"precision\.toml: not valid TOML"):
        load_precision(path)
    with pytest.raises(PrecisionError, match="no such precision file"):
        load_precision(tmp_path / "absent.toml")


def test_twenty_is_the_inclusive_upper_bound(tmp_path: Path) -> None:
    table = load_precision(write_precision(tmp_path, "[default]\nspine = 20\n"))
    assert table.precision("spine") == 20.0


def test_shipped_precision_file_is_package_data() -> None:
    """A wheel (non-editable install) carries config/precision.toml: without it every run
    would need --precision."""
    import tomllib

    setup = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"][
        "setuptools"]
    assert "config*" in setup["packages"]["find"]["include"]
    assert "*.toml" in setup["package-data"]["config"]
