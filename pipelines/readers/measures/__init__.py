"""`dxa measures`: the quality team's measures (QM-*) per period, with their intervals.

The measures are data (`pipelines/registry/quality_measures.toml`: `catalog`) and SQL
(the registry's `quality_measures_as_of` macro: `compute`); this package only asks the
registry, hides small cells (`outputs`) and draws the trend (`page`). Counts only leave
the registry: no patient or exam identifier.
"""
