"""`dxa --version`: the installed distribution's version, from its metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

DXA = Path(sys.executable).parent / "dxa"


def test_version_prints_the_installed_distributions_version_and_exits_0() -> None:
    done = subprocess.run([str(DXA), "--version"], capture_output=True, text=True,  # noqa: S603
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"dxa {version('dxa-registry')}\n"
    assert done.stderr == ""


def test_version_is_an_option_of_dxa_not_of_a_command() -> None:
    """After a command it is that command's unknown option: a usage error (exit 2)."""
    done = subprocess.run([str(DXA), "rules", "--version"], capture_output=True,  # noqa: S603
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "No such option: --version" in done.stderr
