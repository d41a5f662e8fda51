"""Input sources: find export files, detect their format, and read them into text cells.

Every format (canonical CSV, Hologic APEX table exports, GE Lunar DICOM) yields the same
`SourceFile`: text cells named as the canonical columns. Parsing, validation, rules and
loading then run once, whatever the scanner wrote.
"""
