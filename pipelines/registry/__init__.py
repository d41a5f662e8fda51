"""The registry: opening, migrating, writing and reading the DuckDB file, in one place."""
