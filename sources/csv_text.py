"""CSV bytes to text: the encoding (UTF-8, BOM, UTF-16, Windows-1252) and the delimiter.

Shared by the canonical CSV (`sources.read_csv`) and the CSV tables of vendor exports
(`sources.apex.tables`), so that every CSV an input holds is decoded the same way.
"""

from __future__ import annotations

import codecs

from schemas.errors import FileProblem

BOM = b"\xef\xbb\xbf"

#: Delimiters a messy export may use, in tie-break order.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")
#: How a delimiter is named in an input's notes.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _is_utf8(data: bytes) -> int | None:
    """None when `data` is valid UTF-8, else the offset of the first bad byte.

    Plain ASCII (most exports) is recognised in one fast pass; otherwise the bytes are
    decoded in slices with an incremental decoder, so that validating a 2 GB file does
    not hold a 2 GB string.
    """
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 64 * 2**20
    for start in range(0, len(data), step):
        try:
            decoder.decode(data[start : start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return start + exc.start
    return None


def to_utf8(data: bytes) -> tuple[bytes, str | None]:
    """The file's bytes as UTF-8 without BOM, and a note when they had to be converted.

    UTF-8 (BOM accepted) is taken as is; UTF-16 with a BOM and Windows-1252 are
    converted. Latin-1 is not tried after Windows-1252: the only bytes cp1252 leaves
    undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) would become control characters, i.e.
    garbage, so such a file fails with the offset of the first undecodable byte.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "decoded as UTF-16"
        except UnicodeDecodeError:
            raise FileProblem("undecodable bytes: bad UTF-16") from None
    body = data[len(BOM):] if data.startswith(BOM) else data  # no copy without a BOM
    if _is_utf8(body) is None:
        return body, None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            f"undecodable bytes: neither UTF-8 nor Windows-1252 at byte {exc.start} "
            f"(line {line})"
        ) from None
    return text.encode("utf-8"), "decoded as Windows-1252 (not valid UTF-8)"


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode UTF-8 (BOM accepted), UTF-16 (BOM) or Windows-1252 text: (text, note)."""
    utf8, note = to_utf8(data)
    return utf8.decode("utf-8"), note


def detect_delimiter(text: str) -> str:
    """The delimiter of a CSV text: whichever of `,` `;` TAB the header line uses most.

    Only the header line is looked at (names never hold these characters); a tie, or a
    header with none of them, means comma.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] > 0 else ","
