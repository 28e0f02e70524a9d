"""Assemble the self-contained ``report.html``: inline plotly.js, summary tables and figures.

The page opens offline (no CDN): plotly.js is inlined once and every figure refers to it.

>>> html_table([{"kind": "news2", "alerts": 3}])
'<table><thead><tr><th>kind</th><th>alerts</th></tr></thead><tbody><tr><td>news2</td><td>3</td></tr></tbody></table>'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1300px;
       color: #222; padding: 0 16px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f4f4f4; }
.facts th { font-weight: normal; color: #555; font-size: 12px; }
.note { color: #555; font-size: 13px; max-width: 1000px; }
"""


def html_table(rows: Sequence[Mapping[str, object]], css_class: str = "") -> str:
    """Rows of dicts as an HTML table (columns from the first row), every cell escaped."""
    if not rows:
        return "<p class='note'>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    cls = f" class='{css_class}'" if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _slug(heading: str) -> str:
    """An anchor for a heading: its first word, lower case (``report.html#patients``).

    >>> _slug("Patients (12 of 50)")
    'patients'
    """
    return heading.split()[0].lower() if heading.strip() else "section"


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return get_plotlyjs()


def figure_html(fig: go.Figure) -> str:
    """A figure as a ``<div>`` that uses the page's inline plotly.js."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def render_page(*, title: str, subtitle: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole page: ``sections`` are (heading, HTML body) pairs, in order."""
    body = "".join(f"<h2 id='{escape(_slug(h))}'>{escape(h)}</h2>\n{content}\n" for h, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{_plotly_js()}</script></head>\n<body>"
        f"<h1>{escape(title)}</h1><p class='sub'>{escape(subtitle)}</p>\n{body}</body></html>\n"
    )
