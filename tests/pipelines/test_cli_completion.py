"""Shell completion: typer's `--install-completion` / `--show-completion`, for bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
DXA = BIN / "dxa"


def _dxa(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DXA), *args], capture_output=True, text=True,  # noqa: S603
                          timeout=60, check=False, env={**os.environ, **env})


def test_the_bash_completion_script_names_dxa() -> None:
    """Typer's own instruction (`source_bash`) and `--show-completion bash` agree."""
    sourced = _dxa(_DXA_COMPLETE="source_bash")
    assert sourced.returncode == 0, sourced.stderr
    assert "complete -o default -F _dxa_completion dxa" in sourced.stdout.splitlines()
    assert "_DXA_COMPLETE=complete_bash $1" in sourced.stdout
    shown = _dxa("--show-completion", "bash")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == sourced.stdout.strip()


def test_bash_completes_commands_and_choices_through_the_script() -> None:
    """The script sourced in a real bash completes a command and a fixed choice."""
    def complete(*words: str) -> list[str]:
        script = ('source <(dxa --show-completion bash); COMP_WORDS=("$@"); '
                  'COMP_CWORD=$(($# - 1)); _dxa_completion dxa; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-c", script, "bash", *words],  # noqa: S603, S607
                              capture_output=True, text=True, timeout=60, check=True, env=env)
        return done.stdout.split()

    assert complete("dxa", "re") == ["report", "reassess"]
    assert complete("dxa", "run", "--date-format", "") == ["DMY", "MDY"]
    assert "nhanes" in complete("dxa", "run", "--format", "")


def test_install_completion_writes_the_script_and_sources_it_from_bashrc(
    tmp_path: Path,
) -> None:
    done = _dxa("--install-completion", "bash", HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions" / "dxa.sh"
    assert "complete -o default -F _dxa_completion dxa" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
