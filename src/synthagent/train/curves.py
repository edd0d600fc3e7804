"""A standalone HTML page of a `train tiny` run (or of an ablation's arms): learning curves and evaluation tables.

Why standalone: a training run has no tasks folder or rollouts file for `synthagent report`; its figures live in
report.json. The page is one file with inline SVG (no script), so it opens anywhere and can be attached to an
issue. Plots, one line per run or arm: held-out-independent training curves per GRPO step (reward, success by
the paper's measure, mean within-group reward spread, share of zero-spread groups), then the held-out tables
(success with 95% intervals, seen and unseen domains, after SFT and after GRPO) and per-domain success.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthagent.report.markup import esc, num, policy_color
from synthagent.train.funnel import STEPS

CURVES = (("reward", "training reward per step"), ("success", "training success per step (paper's measure)"),
          ("group_std", "within-group reward spread (mean std)"), ("zero_spread_share", "share of zero-spread groups"))


def line_chart(series: list[tuple[str, list[float]]], title: str, *, width: int = 420, height: int = 170,
               legend: bool = False) -> str:
    """An SVG line chart of several series over steps (y in [0, 1] unless a value is larger). `legend` lists
    the series' labels in their colours under the chart, for a chart shown without the page's legend."""
    pad_l, pad_b, pad_t = 34, 22, 20
    longest = max((len(v) for _, v in series), default=0)
    top = max([1.0] + [x for _, v in series for x in v])
    keys = [f'<text x="{pad_l}" y="{height + 14 * (i + 1)}" font-size="11" fill="{policy_color(i)}">■ {esc(label)}</text>'
            for i, (label, _) in enumerate(series)] if legend else []
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 14 * len(keys) + (6 if keys else 0)}" '
             f'role="img" aria-label="{esc(title)}"><text x="4" y="13" font-size="12">{esc(title)}</text>', *keys]
    inner_w, inner_h = width - pad_l - 6, height - pad_b - pad_t
    for frac in (0.0, 0.5, 1.0):
        y = pad_t + inner_h * (1 - frac)
        parts.append(f'<line x1="{pad_l}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="2" y="{y + 4:.1f}" font-size="10">{top * frac:.2g}</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 4}" font-size="10">step 1</text>'
                 f'<text x="{width - 50}" y="{height - 4}" font-size="10">step {longest}</text>')
    for index, (label, values) in enumerate(series):
        if not values:
            continue
        step = inner_w / max(1, longest - 1)
        points = " ".join(f"{pad_l + i * step:.1f},{pad_t + inner_h * (1 - v / top):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{policy_color(index)}" stroke-width="1.5" points="{points}">'
                     f'<title>{esc(label)}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def _interval(result: dict[str, Any]) -> str:
    if not result:
        return "—"
    low, high = result.get("interval") or (None, None)
    return f"{num(result.get('success_rate'), 3)} [{num(low, 3)}, {num(high, 3)}] (n={result.get('tasks')})"


def _legend(labels: list[str]) -> str:
    return "".join(f'<span style="color:{policy_color(i)}">■</span> {esc(label)} &nbsp;' for i, label in enumerate(labels))


def page_body(runs: list[tuple[str, dict[str, Any]]]) -> str:
    labels = [label for label, _ in runs]
    charts = []
    for key, title in CURVES:
        series = [(label, (r.get("grpo") or {}).get("curves", {}).get(key, [])) for label, r in runs]
        if any(v for _, v in series):
            charts.append(line_chart(series, title))
    rows = []
    for label, r in runs:
        # a run evaluated with schema-constrained calls says so beside its figures (rollout.schema_constraint)
        shown = label + (" (constrained calls)" if (r.get("config") or {}).get("eval_constrained_calls") else "")
        rows.append(f"<tr><td>{esc(shown)}</td><td>{_interval(r.get('after_sft', {}))}</td>"
                    f"<td>{_interval(r.get('after_grpo', {}))}</td><td>{_interval(r.get('unseen_after_sft', {}))}</td>"
                    f"<td>{_interval(r.get('unseen_after_grpo', {}))}</td>"
                    f"<td>{num((r.get('after_sft') or {}).get('mean_reward'), 3)} → "
                    f"{num((r.get('after_grpo') or {}).get('mean_reward'), 3)}</td></tr>")
    table = ("<table><tr><th>run</th><th>seen domains, after SFT</th><th>seen, after GRPO</th>"
             "<th>unseen domains, after SFT</th><th>unseen, after GRPO</th><th>held-out reward SFT → GRPO</th></tr>"
             + "".join(rows) + "</table>")
    domains = sorted({d for _, r in runs for key in ("after_sft", "after_grpo", "unseen_after_sft", "unseen_after_grpo")
                      for d in (r.get(key) or {}).get("per_domain", {})})
    head = "".join(f"<th>{esc(d)}</th>" for d in domains)
    drows = []
    for label, r in runs:
        for phase, keys in (("after SFT", ("after_sft", "unseen_after_sft")),
                            ("after GRPO", ("after_grpo", "unseen_after_grpo"))):
            merged = {**(r.get(keys[0]) or {}).get("per_domain", {}), **(r.get(keys[1]) or {}).get("per_domain", {})}
            if merged:
                cells = "".join(f'<td style="background:rgba(40,140,80,{0.1 + 0.6 * merged[d]:.2f})">{num(merged[d], 2)}</td>'
                                if d in merged else "<td>—</td>" for d in domains)
                drows.append(f"<tr><td>{esc(label)}, {phase}</td>{cells}</tr>")
    unseen = sorted({d for _, r in runs for d in (r.get("config") or {}).get("heldout_domains", [])})
    per_domain = (f"<h2>Per-domain held-out success</h2><p>Unseen in training: {esc(', '.join(unseen) or 'none')}</p>"
                  f"<table><tr><th>run</th>{head}</tr>{''.join(drows)}</table>") if drows else ""
    return (f"<p>{_legend(labels)}</p><h2>GRPO learning curves</h2><div>{''.join(charts) or 'no GRPO steps'}</div>"
            f"<h2>Held-out success (95% Wilson intervals)</h2>{table}{per_domain}{_steps_table(runs)}")


EVALUATIONS = (("after_sft", "seen, after SFT"), ("after_grpo", "seen, after GRPO"),
               ("unseen_after_sft", "unseen, after SFT"), ("unseen_after_grpo", "unseen, after GRPO"))


def _steps_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """How far the held-out episodes got along their plans (train/funnel.py), where the report has it."""
    rows = []
    for label, r in runs:
        for key, name in EVALUATIONS:
            figs = r.get(key) or {}
            if figs.get("steps"):
                kinds = ", ".join(f"{k} {num(v['success_rate'], 2)} of {v['tasks']}"
                                  for k, v in figs.get("per_kind", {}).items())
                cells = "".join(f"<td>{num(figs['steps'].get(step), 2)}</td>" for step in STEPS)
                rows.append(f"<tr><td>{esc(label)}, {name}</td>{cells}<td>{esc(kinds)}</td></tr>")
    if not rows:
        return ""
    head = "".join(f"<th>{step.replace('_', ' ')}</th>" for step in STEPS)
    return ("<h2>How far held-out episodes got</h2><p>Share of episodes that reached each step of the task's plan "
            "(cumulative up to the last change; success is the rubric's verdict).</p>"
            f"<table><tr><th>run, evaluation</th>{head}<th>success by task kind</th></tr>{''.join(rows)}</table>")


def write_page(path: Path, title: str, runs: list[tuple[str, dict[str, Any]]]) -> None:
    style = ("body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse;margin:8px 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}svg{margin:4px 12px 4px 0}")
    path.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>'
                    f"<style>{style}</style></head><body><h1>{esc(title)}</h1>{page_body(runs)}</body></html>")
