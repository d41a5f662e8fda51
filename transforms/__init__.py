"""Pure polars transforms: parsing, validation helpers, classification and decisions.

Nothing in this package imports Prefect or DuckDB, so every function here can be tested
and benchmarked on plain frames.
"""
