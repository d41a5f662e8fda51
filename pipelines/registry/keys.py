"""The encryption key of the registry this process works on, read from a private file.

A registry holds identifiable health data; encrypted at rest, a copied disk or backup
tape shows none of it. The key comes from a file (`--key-file`, `DXA_KEY_FILE`), never
from the command line (where `ps` and shell history show it), and is never printed or
logged: errors name the file only. The file must be its owner's only, as ssh demands of
a private key. One process works on one registry (a command, or a flow run), so the key
is held for the process, for as long as `unlocked` lasts: the registry opens with it
wherever the flows and readers open it, without the key travelling as a parameter
(Prefect records a flow's parameters).
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import RegistryError

#: The environment variable naming the key file (between command line and nothing).
KEY_FILE_ENVVAR = "DXA_KEY_FILE"
#: Fewer characters than this is no key worth the name.
MIN_KEY_CHARS = 16

_current: list[str | None] = [None]


class KeyFileError(RegistryError):
    """The key file is missing, unreadable, readable by others, or holds no key."""


def read_key_file(path: Path) -> str:
    """The key in `path` (its first line, stripped); refused in one line naming the file."""
    where = f"--key-file {path}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"{where}: no such file") from None
    except OSError as exc:
        raise KeyFileError(f"{where}: cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise KeyFileError(f"{where}: is not a regular file")
    if mode & 0o077:
        raise KeyFileError(f"{where}: is readable by others (mode {stat.S_IMODE(mode):04o});"
                           f" make it private: chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise KeyFileError(f"{where}: cannot be read as text") from None
    lines = text.strip().splitlines()
    key = lines[0].strip() if lines else ""
    if len(key) < MIN_KEY_CHARS:
        raise KeyFileError(f"{where}: holds no key of at least {MIN_KEY_CHARS} characters")
    return key


def current_key() -> str | None:
    """The key the registry is opened with in this process, or None (a plain registry)."""
    return _current[0]


@contextmanager
def unlocked(key_file: Path | None) -> Iterator[None]:
    """Registries opened meanwhile use the key in `key_file` (None: no key)."""
    previous = _current[0]
    _current[0] = None if key_file is None else read_key_file(Path(key_file))
    try:
        yield
    finally:
        _current[0] = previous
