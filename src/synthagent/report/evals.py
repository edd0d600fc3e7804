"""The eval page: what `synthagent eval tau2|bfcl` measured, as one self-contained HTML file.

An eval result is read from the JSON the eval commands write (the report never imports the
integrations: the command layer validates the JSON into `EvalResult` and passes it down). The page
shows, per result: the provenance line (benchmark and version, task-set and rules fingerprints,
protocol, policy, user simulator, seed, k), pass^1…pass^k with their 95% bootstrap intervals, the same
by domain or category, each task's verdict in every trial with the flips between them, and unscored
trials (an endpoint or simulator that failed for good) counted apart from the agent's failures. With
two or more results a comparability table says which of the fields that must match do not, so two runs
are comparable or visibly not.

Why one file with the stylesheet inlined and no script: it sits beside the JSON (`OUT.html`) and must
open from the file system on its own; everything on it is static text.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthagent.report.markup import CSP, esc, num

# What must be equal for two results to be compared: the benchmark and its version, the same tasks
# (fingerprint), the same rules read from the benchmark (fingerprint), the same protocol, user simulator,
# seed and k. The policy is what a comparison varies.
COMPARED = (("benchmark", "benchmark"), ("package", "package"), ("version", "version"), ("slice", "domain / category"),
            ("split", "split"), ("tasks_fingerprint", "tasks fingerprint"), ("protocol_fingerprint", "rules fingerprint"),
            ("protocol", "protocol"), ("user_simulator", "user simulator"), ("seed", "seed"), ("k", "k"))


class EvalBenchmark(BaseModel):
    model_config = ConfigDict(extra="allow")

    benchmark: str
    package: str
    version: str
    tasks: int
    domain: str | None = None
    category: str | None = None
    split: str | None = None
    tasks_fingerprint: str | None = None
    protocol_fingerprint: str | None = None

    @property
    def slice(self) -> str:
        return self.domain or self.category or "—"


class EvalTask(BaseModel):
    verdicts: list[bool | None] = Field(description="Per trial in sample order: success, failure, None = unscored.")
    unscored: int = 0
    flips: int = 0
    terminations: list[str] = Field(default_factory=list)


class EvalResult(BaseModel):
    """One eval run as its JSON states it (fields the page does not show are ignored)."""

    model_config = ConfigDict(extra="ignore")

    benchmark: EvalBenchmark
    protocol: str
    policy: str
    user_simulator: str
    seed: int
    k: int
    trials: int
    scored: int
    agent_failures: int
    unscored: int
    simulator_faults: int = 0
    faults_by_role: dict[str, int] = Field(default_factory=dict)
    unsupported: int = 0
    summary: dict[str, Any]
    per_task: dict[str, EvalTask]

    def provenance(self) -> dict[str, str]:
        b = self.benchmark
        return {"benchmark": b.benchmark, "package": b.package, "version": b.version, "slice": b.slice,
                "split": b.split or "—", "tasks_fingerprint": b.tasks_fingerprint or "—",
                "protocol_fingerprint": b.protocol_fingerprint or "—", "protocol": self.protocol,
                "user_simulator": self.user_simulator, "seed": str(self.seed), "k": str(self.k)}


class EvalFileError(ValueError):
    """An eval JSON that cannot be read; the message names the file and the field."""


def load_eval(path: Path) -> EvalResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise EvalFileError(f"{path}: cannot read: {err.strerror or err}") from err
    except json.JSONDecodeError as err:
        raise EvalFileError(f"{path}: line {err.lineno}: not JSON ({err.msg})") from err
    try:
        return EvalResult.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise EvalFileError(f"{path}: field {field}: {first['msg']} (not an eval result of `synthagent eval`)") from err


# ------------------------------------------------------------------------------------------- the page


def pass_levels(summary: dict[str, Any]) -> list[tuple[int, float, float, float]]:
    """[(k, pass^k, low, high)] for every k the summary has an interval for, in order."""
    out = []
    intervals = summary.get("interval95") or {}
    for key, (low, high) in sorted(intervals.items(), key=lambda kv: int(kv[0].split("^")[1])):
        out.append((int(key.split("^")[1]), float(summary[key]), float(low), float(high)))
    return out


def _figure(value: float, cls: str = "") -> str:
    return f'<td class="n {cls}" data-value="{value!r}">{num(value, 3)}</td>'


def _interval_bar(value: float, low: float, high: float) -> str:
    """A 0–1 axis with the interval as a band and the estimate as a tick."""
    w = 160
    return (f'<svg class="ci" width="{w}" height="12" viewBox="0 0 {w} 12" role="img" '
            f'aria-label="{value:.3f} in [{low:.3f}, {high:.3f}]"><rect x="0" y="5" width="{w}" height="2" fill="#e5e7eb"/>'
            f'<rect x="{low * w:.1f}" y="2" width="{max(1.0, (high - low) * w):.1f}" height="8" fill="#93c5fd"/>'
            f'<rect x="{min(w - 2, value * w):.1f}" y="0" width="2" height="12" fill="#1d4ed8"/></svg>')


def _pass_table(summary: dict[str, Any], table_id: str) -> str:
    levels = pass_levels(summary)
    if not levels:
        return '<p class="note">No scored trials: no pass^k.</p>'
    rows = "".join(f'<tr data-k="{k}"><th class="rowh">pass^{k}</th>{_figure(v, "value")}{_figure(lo, "low")}'
                   f'{_figure(hi, "high")}<td>{_interval_bar(v, lo, hi)}</td></tr>' for k, v, lo, hi in levels)
    return (f'<table class="grid-table passk" id="{table_id}"><thead><tr><th></th><th class=n>estimate</th>'
            "<th class=n>95% low</th><th class=n>95% high</th><th>interval</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p class=\"note\">pass^k up to the fewest scored trials any task has "
            "(an unscored trial is no verdict); intervals from a seeded bootstrap over tasks.</p>")


def _slices_table(summary: dict[str, Any], k: int, table_id: str) -> str:
    groups = summary.get("by_domain") or {}
    head = "".join(f"<th class=n>pass^{i}</th>" for i in range(1, k + 1))
    rows = []
    for name, group in groups.items():
        levels = {lvl: (v, lo, hi) for lvl, v, lo, hi in pass_levels(group)}
        cells = "".join(
            (f'<td class="n" data-k="{i}" data-value="{levels[i][0]!r}">{num(levels[i][0], 3)}'
             f'<span class="sub">[{num(levels[i][1], 3)}, {num(levels[i][2], 3)}]</span></td>')
            if i in levels else '<td class="n">—</td>' for i in range(1, k + 1))
        rows.append(f'<tr data-slice="{esc(name)}"><th class="rowh">{esc(name)}</th>'
                    f'<td class="n tasks">{group.get("tasks", 0)}</td><td class="n scored">{group.get("scored", 0)}</td>'
                    f'<td class="n unscored">{group.get("unscored", 0)}</td>{cells}</tr>')
    return (f'<table class="grid-table slices" id="{table_id}"><thead><tr><th>domain / category</th>'
            f"<th class=n>tasks</th><th class=n>scored</th><th class=n>unscored</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _verdict_mark(verdict: bool | None) -> str:
    if verdict is None:
        return '<span class="mark unscored" data-verdict="unscored" title="unscored (fault)">·</span>'
    if verdict:
        return '<span class="mark ok" data-verdict="pass" title="success">✓</span>'
    return '<span class="mark bad" data-verdict="fail" title="failure">✗</span>'


def _task_rows(per_task: dict[str, EvalTask]) -> str:
    return "".join(
        f'<tr data-task="{esc(task_id)}"><td><code>{esc(task_id)}</code></td>'
        f'<td class="verdicts">{"".join(_verdict_mark(v) for v in t.verdicts)}</td>'
        f'<td class="n flips">{t.flips}</td><td class="n unscored">{t.unscored}</td>'
        f'<td class="sub">{esc(", ".join(dict.fromkeys(t.terminations)))}</td></tr>'
        for task_id, t in per_task.items())


def _flips_card(result: EvalResult, index: int) -> str:
    flipping = {i: t for i, t in result.per_task.items() if t.flips}
    steady = {i: t for i, t in result.per_task.items() if not t.flips}
    head = ("<thead><tr><th>task</th><th>verdict per trial</th><th class=n>flips</th><th class=n>unscored</th>"
            "<th>ended</th></tr></thead>")
    total_flips = sum(t.flips for t in result.per_task.values())
    return (f'<h3>Verdicts across the {result.k} trials</h3>'
            f'<p class="note" id="flip-summary-{index}" data-tasks-flipping="{len(flipping)}" data-flips="{total_flips}">'
            f"{len(flipping)} of {len(result.per_task)} tasks change verdict between trials ({total_flips} flips): "
            "a task that passes and fails in turn is flaky, not hard. ✓ success, ✗ failure, · unscored.</p>"
            + (f'<table class="grid-table flips" id="flipping-{index}">{head}<tbody>{_task_rows(flipping)}</tbody></table>'
               if flipping else "")
            + (f'<details><summary>{len(steady)} task(s) with the same verdict in every trial</summary>'
               f'<table class="grid-table flips" id="steady-{index}">{head}<tbody>{_task_rows(steady)}</tbody></table>'
               "</details>" if steady else ""))


def _counts(result: EvalResult, index: int) -> str:
    roles = ", ".join(f"{role} {n}" for role, n in result.faults_by_role.items())
    items = [("trials", result.trials, ""), ("scored", result.scored, ""), ("agent-failures", result.agent_failures, ""),
             ("unscored", result.unscored, "warn" if result.unscored else "")]
    chips = "".join(f'<span class="chip {cls}" data-count="{name}"><b>{value}</b> {name.replace("-", " ")}</span>'
                    for name, value, cls in items)
    note = (f"Unscored trials ({result.unscored}: {roles}; {result.simulator_faults} of them simulator faults) had an "
            "endpoint or simulator fail after its retries; they are no verdict, left out of pass^k, and a rerun "
            "retries them. Agent failures are scored trials that did not succeed."
            if result.unscored else "No trial was unscored: every trial has a verdict.")
    if result.unsupported:
        note += f" {result.unsupported} trial(s) had a reward basis this protocol cannot score."
    return f'<div class="chips" id="counts-{index}">{chips}</div><p class="note">{esc(note)}</p>'


def _provenance(result: EvalResult, index: int) -> str:
    p = result.provenance()
    parts = [f'{esc(p["benchmark"])} ({esc(p["package"])} {esc(p["version"])})', f'{esc(p["slice"])} · split {esc(p["split"])}',
             f"{result.benchmark.tasks} tasks (tasks {esc(p['tasks_fingerprint'])})",
             f'protocol {esc(p["protocol"])} (rules {esc(p["protocol_fingerprint"])})', f"policy {esc(result.policy)}",
             f'user simulator {esc(p["user_simulator"])}', f'seed {esc(p["seed"])}', f'k = {esc(p["k"])}']
    attrs = " ".join(f'data-{name.replace("_", "-")}="{esc(value)}"' for name, value in p.items())
    return f'<p class="provenance" id="provenance-{index}" {attrs}>{" · ".join(parts)}</p>'


def _result_card(result: EvalResult, index: int) -> str:
    title = f"{result.benchmark.benchmark} {result.benchmark.slice} · {result.policy}"
    return (f'<section class="card eval" id="eval-{index}"><h2>{esc(title)}</h2>{_provenance(result, index)}'
            f"{_counts(result, index)}<h3>pass^k (95% bootstrap interval over tasks)</h3>"
            f'{_pass_table(result.summary, f"passk-{index}")}'
            f'<h3>By domain / category</h3>{_slices_table(result.summary, result.k, f"slices-{index}")}'
            f"{_flips_card(result, index)}</section>")


def comparability(results: list[EvalResult]) -> list[list[str]]:
    """For each result after the first: the labels of the COMPARED fields where it differs from the first."""
    first = results[0].provenance()
    return [[label for key, label in COMPARED if r.provenance()[key] != first[key]] for r in results[1:]]


def _compare_card(results: list[EvalResult]) -> str:
    if len(results) < 2:
        return ""
    provs = [r.provenance() for r in results]
    head = "".join(f"<th>run {i + 1}: {esc(r.policy)}</th>" for i, r in enumerate(results))
    rows = "".join(
        f'<tr data-field="{key}"{" class=differs" if len({p[key] for p in provs}) > 1 else ""}><th class="rowh">'
        f"{esc(label)}</th>" + "".join(f"<td><code>{esc(p[key])}</code></td>" for p in provs) + "</tr>"
        for key, label in COMPARED)
    verdicts = "".join(
        f'<li data-run="{i + 2}" data-comparable="{int(not diff)}">run {i + 2} against run 1: '
        + ("comparable (only the policy differs)" if not diff else f"<b>not comparable</b>: differs in {esc(', '.join(diff))}")
        + "</li>" for i, diff in enumerate(comparability(results)))
    return (f'<section class="card" id="comparability"><h2>Comparable?</h2><ul id="comparable-verdicts">{verdicts}</ul>'
            f'<div class="scroll"><table class="grid-table" id="compare-table"><thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div><p class=\"note\">Two runs measure the same thing only when every "
            "row but the policy matches: the benchmark version, the task set and the rules read from the benchmark "
            "(fingerprints), the protocol, the user simulator, the seed and k.</p></section>")


STYLE = """
.eval h3 { font-size: 13.5px; margin: 18px 0 8px; }
.provenance { font-family: ui-monospace, monospace; font-size: 12px; background: #f8fafc; border: 1px solid #e5e7eb;
  border-radius: 6px; padding: 6px 10px; overflow-wrap: anywhere; }
.mark.unscored { background: #f1f5f9; color: #64748b; }
.verdicts .mark { margin-right: 3px; }
tr.differs td, tr.differs th { background: #fff7ed; }
"""


def eval_page(results: list[EvalResult], *, title: str = "synthagent eval") -> str:
    """The whole page as one HTML document: the report's stylesheet inlined, no script."""
    if not results:
        raise ValueError("no eval results to show")
    css = (resources.files("synthagent.report") / "static" / "style.css").read_text(encoding="utf-8") + STYLE
    chips = "".join(f'<span class="chip">{esc(r.benchmark.benchmark)} {esc(r.benchmark.slice)} · {esc(r.policy)}</span>'
                    for r in results)
    body = (f'<div class="pagehead"><h1>{esc(title)}</h1><div class="chips">{chips}</div></div>'
            + _compare_card(results) + "".join(_result_card(r, i) for i, r in enumerate(results)))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><link rel="icon" href="data:,"><style>{css}</style></head>'
            f'<body data-page="eval"><header class="top"><div class="bar"><span class="brand">synthagent<span>eval</span>'
            f"</span></div></header><main>{body}</main></body></html>\n")


def overview_card(results: list[EvalResult], href: str = "eval.html") -> str:
    """The overview's link to the eval page, with each run's headline: pass^1 and pass^k with intervals."""
    items = []
    for r in results:
        levels = pass_levels(r.summary)
        shown = [lvl for lvl in levels if lvl[0] in (1, r.k)]
        figures = ", ".join(f"pass^{k} {v:.3f} [{lo:.3f}, {hi:.3f}]" for k, v, lo, hi in shown) or "no scored trials"
        items.append(f"<li>{esc(r.benchmark.benchmark)} {esc(r.benchmark.slice)} · {esc(r.policy)}: {esc(figures)}; "
                     f"{r.unscored} unscored</li>")
    return (f'<section class="card" id="eval-link"><h2>Benchmark evals</h2><ul>{"".join(items)}</ul>'
            f'<p class="note"><a href="{esc(href)}">The eval page</a>: provenance, intervals, verdict flips.</p></section>')


def write_eval_page(results: list[EvalResult], path: str | Path, *, title: str = "synthagent eval") -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(eval_page(results, title=title))
    return out


__all__ = ["EvalFileError", "EvalResult", "comparability", "eval_page", "load_eval", "overview_card", "write_eval_page"]
