"""Print the pins of `pylock.toml` (PEP 751) as pip requirement lines, with their hashes.

pip cannot install from a pylock file yet; bootstrap.sh feeds it these lines instead, so
that the lock stays one standard file and every artifact pip fetches is checked against
the lock's sha256 (pip's hash-checking mode). Standard library only: it runs before the
virtual environment has anything in it.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirement_lines(lock: dict) -> list[str]:
    """`name==version ; marker --hash=sha256:...` for each locked package."""
    lines = []
    for package in lock["packages"]:
        line = f"{package['name']}=={package['version']}"
        if package.get("marker"):
            line += f" ; {package['marker']}"
        artifacts = [*package.get("wheels", []), package.get("sdist", {})]
        hashes = sorted({h for a in artifacts if (h := a.get("hashes", {}).get("sha256"))})
        lines.append(" ".join([line, *(f"--hash=sha256:{h}" for h in hashes)]))
    return lines


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pylock.toml")
    print("\n".join(requirement_lines(tomllib.loads(path.read_text(encoding="utf-8")))))
