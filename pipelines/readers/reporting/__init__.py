"""One report model and its renderers.

`model.py` holds the sections of typed rows; `registry.py` builds `dxa report`'s sections,
`pipelines/readers/summary.py` the run summary's; `render_text.py` (table, CSV, markdown),
`render_json.py` (JSON and its schema) and `render_html.py` (the page with charts, from
`chart_data.py` and `charts.py`) write them. Every report shows counts, never identifiers.
"""
