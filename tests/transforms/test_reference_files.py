"""The reference files (T-score references, standard populations): one reader, one error
naming the file and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.reference_files import ReferenceFileError, shipped, shipped_names
from transforms.standardise import load_standards, standard
from transforms.tscore import available_references, load_reference


def test_the_shipped_files_are_package_data() -> None:
    assert shipped_names() == ["nhanes3", "standard_populations"]
    assert shipped("nhanes3.toml").is_file()
    assert available_references() == ["nhanes3"]  # the standard populations are not one


@pytest.mark.parametrize("load", [load_reference, load_standards])
def test_an_unreadable_file_is_named(tmp_path: Path, load) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"broken\.toml: not a readable TOML file"):
        load(str(path) if load is load_reference else path)


def test_a_standard_without_a_key_names_the_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "standards.toml"
    path.write_text('[mine]\ntitle = "Mine"\nsource = "here"\ngroups = [[0, 10.0]]\n',
                    encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"standards\.toml: \[mine\]: missing or bad "
                                                 r"'breaks'"):
        load_standards(path)


def test_groups_out_of_age_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "standards.toml"
    path.write_text('[mine]\ntitle = "Mine"\nsource = "here"\nbreaks = [65]\n'
                    "groups = [[50, 1.0], [40, 2.0]]\n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match=r"\[mine\] groups must ascend by age"):
        load_standards(path)


def test_an_unknown_standard_lists_the_known_ones() -> None:
    with pytest.raises(ReferenceFileError, match="unknown standard 'nope' .known: esp2013"):
        standard("nope")
