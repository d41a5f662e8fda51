"""The frame every HTML page of the project shares: a self-contained document that draws
its Vega-Lite charts offline and fetches nothing.

The quality report, the quality-measures page and a patient's page differ in their
words, charts and tables; the head (Content-Security-Policy, style, the inlined Vega
bundle), the way a report section becomes a table, and the script that draws the charts
are here once. Text from the registry reaches a page only escaped: HTML-escaped in the
document, JSON-escaped (no `<`, `>` or `&`) inside the script.
"""

from __future__ import annotations

import html
import json
import os
from functools import cache
from pathlib import Path

from pipelines.readers.reporting.model import Section
from pipelines.readers.reporting.render_text import display

#: No request of any kind; inline scripts and styles only (Vega compiles its expressions
#: with Function, hence 'unsafe-eval'); images only from data: URLs.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'unsafe-inline'; img-src data:; font-src data:")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #222; max-width: 1400px; }
h1 { margin-bottom: 0.2rem; } .lede { color: #555; margin-top: 0; }
figure.chart { margin: 2rem 0; } figcaption { color: #555; margin-bottom: 0.5rem; }
figcaption strong { color: #222; font-size: 1.1rem; display: block; }
p.empty { color: #777; font-style: italic; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.8rem; text-align: left; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.record th { font-weight: normal; color: #444; } td.none { color: #777; }
nav a { margin-right: 1rem; }
details.analysts { margin-top: 3rem; border-top: 1px solid #ccc; padding-top: 1rem; }
details.analysts summary { cursor: pointer; font-weight: bold; }
details.analysts code { font-size: 0.9rem; }
details.analysts h3 { font-size: 1.05rem; } details.analysts h4 { font-size: 0.95rem; }
"""


@cache
def vega_bundle() -> str:
    """Vega-Embed with Vega-Lite and Vega, one script, matching Altair's Vega-Lite version.

    vl-convert bundles the libraries it ships on each call (seconds of work), so the
    result is kept in the user's cache folder, named by both versions, and reused.
    """
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dxa-registry"
    cached = cache_dir / f"vega-embed-{vl_convert.__version__}-{version}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=version)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f".{cached.name}.tmp-{os.getpid()}")
        temporary.write_text(bundle, encoding="utf-8")
        os.replace(temporary, cached)
    except OSError:
        pass  # no writable cache folder: bundle again next time
    return bundle


#: Characters that could end or change an inline <script> (`</script>`, `<!--`, `-->`),
#: written as JSON escapes: the same string to JavaScript, no markup to the HTML parser.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element, whatever its strings hold.

    The HTML parser reads a script's text before JavaScript does: `</script>` would end
    it, and `<!--` followed by `<script` makes it swallow the rest of the page. No `<`,
    `>` or `&` is left in the text, so neither can happen (JSON's own escapes).
    """
    return json.dumps(value, separators=(",", ":")).translate(_SCRIPT_ESCAPES)


EMBED = """
const specs = %s;
const drawn = Object.entries(specs).map(([key, spec]) =>
  vegaEmbed('#chart-' + key, spec, {renderer: 'svg', actions: false}));
Promise.all(drawn).then(() => { document.body.dataset.charts = 'drawn'; })
  .catch((error) => { console.error(error); document.body.dataset.charts = 'failed'; });
"""



def script_json(value: object) -> str:
    """JSON safe inside a <script> element, whatever its strings hold.

    The HTML parser reads a script's text before JavaScript does: `</script>` would end
    it, and `<!--` followed by `<script` makes it swallow the rest of the page. No `<`,
    `>` or `&` is left in the text, so neither can happen (JSON's own escapes).
    """
    return json.dumps(value, separators=(",", ":")).translate(_SCRIPT_ESCAPES)


def table_html(section: Section) -> str:
    """A report section as a plain HTML table (every value escaped), its note below."""
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in section.columns)
    rows = "".join(
        "<tr>" + "".join(
            f'<td class="{"num" if c.numeric else "text"}">{html.escape(display(v))}</td>'
            for c, v in zip(section.columns, row, strict=True)) + "</tr>"
        for row in section.rows)
    note = f"<p>{html.escape(section.note)}</p>" if section.note else ""
    return (f'<h2 id="section-{section.key}">{html.escape(section.title)}</h2>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}")


def html_page(title: str, body: str, specs: dict[str, dict] | list[dict], *,
              private: bool = False) -> str:
    """The whole document: `title` as its title and heading, `body` (already escaped
    HTML) below, and the script that draws each spec into `#chart-<key>` (a list's keys
    are its positions).

    `private`: a page that names a patient asks search engines not to index it.
    """
    robots = '<meta name="robots" content="noindex">\n' if private else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
{robots}<title>{html.escape(title)}</title><style>{STYLE}</style>
<script>{vega_bundle()}</script></head>
<body data-charts="pending">
<h1>{html.escape(title)}</h1>
{body}
<script>{EMBED % script_json(specs)}</script>
</body></html>
"""
