"""Bookkeeping columns carried beside the canonical ones while a file is processed.

The canonical columns themselves (names, kinds, ranges, sites) are one table in
`schemas.columns`.
"""

from __future__ import annotations

from typing import Final

ROW_NUMBER: Final = "_row_number"  # 1 = first data row of the file
PARSE_ERRORS: Final = "_parse_errors"  # list of reasons: cells whose text did not parse
RAW: Final = "_raw"  # str: the input row as read (JSON), when an adapter gives one
ROW_PROBLEM: Final = "_row_problem"  # reason: why the row itself is malformed (short row)
