"""The committed lock (pylock.toml) covers what pyproject.toml asks for, and bootstrap's
reading of it keeps every pin, marker and hash."""

from __future__ import annotations

import importlib.util
import tomllib

from exam_rows import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = tomllib.loads((REPO / "pylock.toml").read_text(encoding="utf-8"))
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirement_lines() -> list[str]:
    spec = importlib.util.spec_from_file_location(
        "pylock_requirements", REPO / "scripts" / "pylock_requirements.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.requirement_lines(LOCK)


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    locked = {canonicalize_name(p["name"]): p["version"] for p in LOCK["packages"]}
    declared = [*PROJECT["dependencies"],
                *(d for extra in PROJECT["optional-dependencies"].values() for d in extra)]
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in pylock.toml"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{name} {locked[name]} is outside {requirement.specifier}")


def test_bootstrap_pins_every_package_with_marker_and_hashes() -> None:
    lines = _requirement_lines()
    assert len(lines) == len(LOCK["packages"])
    for package, line in zip(LOCK["packages"], lines, strict=True):
        assert line.startswith(f"{package['name']}=={package['version']}")
        assert "--hash=sha256:" in line
        if package.get("marker"):
            assert f" ; {package['marker']} --hash" in line
