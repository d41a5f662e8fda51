"""A run's settings: each file loaded once, the T-score reference with them (picklable)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.flows.nightly import PlainStages
from pipelines.ingest import prepare
from pipelines.ingest.settings import resolve_settings
from sources.base import CANONICAL_CSV
from sources.detect import Input
from transforms.reference_files import ReferenceFileError
from transforms.tscore import TScorePolicy, load_reference


def test_the_default_reference_fills_and_a_named_one_recomputes() -> None:
    assert resolve_settings().tscores == TScorePolicy(load_reference(), replace=False)
    named = resolve_settings(t_reference="nhanes3").tscores
    assert named == TScorePolicy(load_reference("nhanes3"), replace=True)


def test_a_bad_reference_fails_when_the_settings_are_resolved() -> None:
    with pytest.raises(ReferenceFileError, match="unknown T-score reference 'nope'"):
        resolve_settings(t_reference="nope")


def test_settings_survive_pickling_as_a_dask_worker_receives_them() -> None:
    settings = resolve_settings(t_reference="nhanes3")
    copy = pickle.loads(pickle.dumps(settings))
    assert copy == settings
    assert copy.tscores.reference.sites == settings.tscores.reference.sites


def test_prepare_uses_the_settings_reference_and_loads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = resolve_settings()

    def no_second_load(_: str | None) -> TScorePolicy:
        raise AssertionError("the prepare stage loaded the T-score reference again")

    monkeypatch.setattr(prepare, "t_score_policy", no_second_load)
    # a neck BMD with no T-score: the default reference fills it in
    path = write_csv(tmp_path / "exams.csv", [make_row(femoral_neck_t="",
                                                       femoral_neck_bmd="0.558")])
    [prepared] = PlainStages().prepare_all([Input(path, CANONICAL_CSV)], settings)
    assert prepared.error is None
    assert prepared.tscores is settings.tscores
    assert prepared.valid is not None
    assert prepared.valid["femoral_neck_t"].to_list() == [-2.5]
