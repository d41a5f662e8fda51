"""The committed lock (pylock.toml) covers what pyproject.toml asks for, with a hash for
every artifact, and bootstrap installs it with the locked uv."""

from __future__ import annotations

import tomllib

from exam_rows import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = tomllib.loads((REPO / "pylock.toml").read_text(encoding="utf-8"))
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


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


def test_bootstrap_installs_from_the_lock_with_uv_at_its_locked_version() -> None:
    """bootstrap.sh installs pylock.toml with uv (hash-checked) and pins uv from the lock."""
    script = (REPO / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert "uv pip sync" in script and "pylock.toml" in script
    locked = {canonicalize_name(p["name"]): p for p in LOCK["packages"]}
    assert "uv" in locked, "uv must be locked: bootstrap installs the locked version"
    for package in LOCK["packages"]:
        artifacts = [*package.get("wheels", [])]
        if "sdist" in package:
            artifacts.append(package["sdist"])
        assert artifacts and all("sha256" in a["hashes"] for a in artifacts), package["name"]
