"""The report's plots, as small inline SVG strings. Labels go through `esc`; numbers are formatted here."""

from __future__ import annotations

from synthagent.report.markup import esc


def histogram(counts: list[int], color: str, *, title: str, width: int = 280, height: int = 130) -> str:
    """Bars of the share of trajectories per reward bin over [0, 1]."""
    total = sum(counts) or 1
    left, right, top, bottom = 34, 8, 8, 22
    w, h = width - left - right, height - top - bottom
    peak = max(max(counts) / total, 0.05)
    step = w / len(counts)
    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
             f"<title>{esc(title)}</title>"]
    for frac in (0.0, 0.5, 1.0):
        y = top + h - h * frac
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" class="tick">'
                     f"{100 * peak * frac:.0f}%</text>")
    for i, c in enumerate(counts):
        bh = h * (c / total) / peak
        x = left + i * step + 1
        parts.append(f'<rect x="{x:.1f}" y="{top + h - bh:.1f}" width="{step - 2:.1f}" height="{bh:.1f}" rx="1.5" '
                     f'fill="{color}"><title>reward {i / len(counts):.1f}–{(i + 1) / len(counts):.1f}: {c}'
                     "</title></rect>")
    for frac in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left + w * frac:.1f}" y="{height - 6}" text-anchor="middle" class="tick">'
                     f"{frac:g}</text>")
    parts.append("</svg>")
    return "".join(parts)


def meter(value: float | None, color: str, *, width: int = 90, height: int = 8) -> str:
    """A thin horizontal bar for a value in [0, 1], for table cells."""
    v = 0.0 if value is None else min(1.0, max(0.0, value))
    return (f'<svg class="meter" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-hidden="true">'
            f'<rect width="{width}" height="{height}" rx="{height / 2}" fill="#eef0f3"/>'
            f'<rect width="{width * v:.1f}" height="{height}" rx="{height / 2}" fill="{color}"/></svg>')


def stacked(parts: list[tuple[str, int, str]], *, width: int = 420, height: int = 16) -> str:
    """One 100% bar split into labelled parts (label, count, colour)."""
    total = sum(n for _, n, _ in parts) or 1
    out = [f'<svg class="stack" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    x = 0.0
    for label, n, color in parts:
        if not n:
            continue
        w = width * n / total
        out.append(f'<rect x="{x:.1f}" width="{w:.1f}" height="{height}" fill="{color}">'
                   f"<title>{esc(label)}: {n} ({100 * n / total:.0f}%)</title></rect>")
        x += w
    out.append("</svg>")
    return "".join(out)
