"""From an input file to rows ready to write: discover, prepare, plan (decide, serial)."""
