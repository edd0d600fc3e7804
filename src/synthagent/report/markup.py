"""Escaping and the page shell. Every string that reaches a page goes through `esc` or `script_json`."""

from __future__ import annotations

import html
import json
from typing import Any

# No inline script may run, whatever a page contains: scripts only from files beside the page. Styles may
# be inline (bar widths, heat-map colours); images only as data: URIs.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'")


def esc(value: object, *, quote: bool = True) -> str:
    """Text or attribute value → HTML; quotes are escaped too, so it is safe inside attribute values.

    `quote=False` is for element content only (a `<pre>` of JSON): there quotes need no escape, and
    `&quot;` would make JSON blocks twice their size.
    """
    return html.escape("" if value is None else str(value), quote=quote)


def script_json(obj: Any) -> str:
    """JSON that is safe inside <script> and in a .js file: no `</script>`, `<!--`, or raw U+2028/2029.

    `<`, `>` and `&` can only occur inside JSON strings, where their \\u escapes mean the same thing.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def clip(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


CAP = 100_000  # characters of one value the report keeps; the rest is counted, not stored
SHOW = 2_000  # characters of one value shown before an expander


def cap(text: str) -> str:
    """`text`, cut at CAP characters with a note of how many more there were (a 1 MB tool output stays out)."""
    return text if len(text) <= CAP else text[:CAP] + f"… ({len(text) - CAP} more characters not in the report)"


def long_text(text: str | None, tag: str = "div", cls: str = "text") -> str:
    """Escaped text in `<tag class=cls>`; past SHOW characters the rest waits behind a "show all" expander.

    A long unbroken string (a 1 MB token, a base64 blob) is what makes a browser spend minutes in layout:
    only SHOW characters are laid out until someone asks for the rest, and never more than CAP.
    """
    raw = cap(text or "")
    if len(raw) <= SHOW:
        return f'<{tag} class="{cls}">{esc(raw, quote=False)}</{tag}>'
    return (f'<{tag} class="{cls}">{esc(raw[:SHOW], quote=False)}</{tag}><details class="more"><summary>show all '
            f'{len(text or ""):,} characters</summary><{tag} class="{cls} rest">{esc(raw[SHOW:], quote=False)}</{tag}>'
            "</details>")


def pretty_json(text: str | None, limit: int = 20000, indent: int = 2) -> tuple[str, bool]:
    """Pretty-print JSON text if it parses; returns (text, parsed). Long text is cut with a note."""
    raw = text or ""
    parsed = False
    try:
        value = json.loads(raw)
        if isinstance(value, (dict, list)):
            raw = json.dumps(value, indent=indent, ensure_ascii=False)
            parsed = True
    except (ValueError, TypeError):
        pass
    if len(raw) > limit:
        raw = raw[:limit] + f"\n… ({len(raw) - limit} more characters not shown)"
    return raw, parsed


def reward_color(value: float | None) -> str:
    """A muted red → amber → green scale for rewards in [0, 1]."""
    if value is None:
        return "#f1f3f5"
    stops = [(0.0, (248, 215, 210)), (0.5, (253, 236, 200)), (1.0, (200, 234, 206))]
    v = min(1.0, max(0.0, value))
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if v <= b:
            f = (v - a) / (b - a)
            r, g, bl = (round(x + (y - x) * f) for x, y in zip(ca, cb))
            return f"#{r:02x}{g:02x}{bl:02x}"
    return "#c8eace"


PALETTE = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#dc2626", "#475569"]


def policy_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def page(title: str, body: str, *, root: str, kind: str, data_scripts: tuple[str, ...] = (), active: str = "") -> str:
    """A whole HTML document. `root` is the relative path back to the report's top folder ('' or '../')."""
    def nav(href: str, label: str, key: str) -> str:
        cls = ' class="on"' if key == active else ""
        return f'<a href="{root}{href}"{cls}>{label}</a>'

    scripts = "".join(f'<script src="{root}{esc(s)}"></script>' for s in data_scripts)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{root}assets/style.css"></head>'
        f'<body data-page="{kind}"><header class="top"><div class="bar">'
        f'<a class="brand" href="{root}index.html">synthagent<span>report</span></a><nav>'
        + nav("index.html", "Overview", "overview") + nav("tasks.html", "Tasks", "tasks")
        + nav("runs.html", "Trajectories", "runs")
        + f"</nav></div></header><main>{body}</main>{scripts}"
        f'<script src="{root}assets/app.js"></script></body></html>\n'
    )
