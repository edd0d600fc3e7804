"""`write_report`: tasks + scored trajectories → a static, self-contained HTML site.

Layout of the output folder:

    index.html          overview (aggregates only; light at any scale)
    tasks.html          task list, filtered in the browser from data/index.js
    runs.html           trajectory list, likewise (paginated; 10,000 rows stay fast)
    run.html            the trajectory viewer: `run.html?t=<task key>&r=<n>` shows run n of a task
    tasks/<key>.html    one page per task (its runs table is drawn from the task's data file)
    data/index.js       the lists' data, as a script (fetch() of local files is blocked under file://)
    data/t/<key>.js     one file per task: its runs, with what they share stored once
    assets/             style.css, app.js

Why one data file per task and one viewer rather than one HTML page per run: the runs of a task share
their system prompt (tool schemas and policy), their rubric's criteria, the task's context and the list
of sibling runs. A page per run repeated all of that, plus the markup, ~20 KB a run (16,000 runs: 366 MB
in 17,007 files); stored once per task the same runs take a fraction of that (see bench/score_scale.py).

Task keys are sha256 digests of the ids, so no id ever reaches a path or a URL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from synthagent.report import pages
from synthagent.report.evals import EvalResult, overview_card, write_eval_page
from synthagent.report.markup import clip, cap, policy_color, script_json
from synthagent.report.stats import overview, policy_order
from synthagent.spec.models import Task, Trajectory

MARKER = ".synthagent-report"
SECTION_CODES = {"forbidden": 0, "subgoals": 1, "interactions": 2}
ACTOR_CODES = {"agent": 0, "user": 1, "tool": 2, "system": 3}
ASSETS = ("style.css", "app.js")
SUBFOLDERS = ("tasks", "data", "assets")
INTERN_MIN = 24  # shorter texts stay inline: an index and a table entry would cost about as much
Progress = Callable[[int, int], None]


def _digest(*parts: object, n: int = 16) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:n]


def task_key(task_id: str) -> str:
    """The file-name-safe key of a task: its page, its data file and its runs' URLs use it."""
    return _digest("task", task_id)


def task_file(task_id: str) -> str:
    return f"tasks/{task_key(task_id)}.html"


def task_data_file(task_id: str) -> str:
    return f"data/t/{task_key(task_id)}.js"


def run_href(task_id: str, index: int) -> str:
    """The viewer URL of the `index`-th run of a task (in input order), relative to the report's folder."""
    return f"run.html?t={task_key(task_id)}&r={index}"


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _prepare(out: Path) -> None:
    """Create the folder; clear what an earlier report wrote there, and only that (marked by MARKER)."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / MARKER).exists():
        for sub in (*SUBFOLDERS, "runs"):  # runs/: the page-per-run layout of earlier versions
            shutil.rmtree(out / sub, ignore_errors=True)
    for sub in SUBFOLDERS:
        (out / sub).mkdir(exist_ok=True)
    (out / "data" / "t").mkdir(exist_ok=True)
    (out / MARKER).write_text("written by synthagent.report.write_report; the folder is rewritten on each run\n")


def write_report(tasks: list[Task], runs: list[Trajectory], out_dir: str | os.PathLike[str], *,
                 title: str = "synthagent report", progress: Progress | None = None,
                 evals: list[EvalResult] | None = None) -> Path:
    """Write the report into `out_dir` and return the path of its index.html.

    Tasks without runs still get a page; runs whose task is missing from `tasks` are shown with a note that
    says so (the `report` command refuses such inputs; the library keeps them visible). Unscored runs (no
    `result`, or a `fault`) are shown apart, with the fault's message, and left out of every average.
    `progress(done, total)` is called as tasks are written. `evals` (results of `synthagent eval`) go to
    eval.html, linked from the overview.
    """
    out = Path(out_dir)
    _prepare(out)
    static = resources.files("synthagent.report") / "static"
    for name in ASSETS:
        _write(out / "assets" / name, (static / name).read_text(encoding="utf-8"))

    task_by_id: dict[str, Task] = {}
    for t in tasks:
        task_by_id.setdefault(t.id, t)
    colors = {name: policy_color(i) for i, name in enumerate(policy_order(runs))}
    by_task: dict[str, list[Trajectory]] = defaultdict(list)
    for r in runs:
        by_task[r.task_id].append(r)

    ov = overview(list(task_by_id.values()), runs)
    if evals:
        write_eval_page(evals, out / "eval.html", title=f"{title} · evals")
    _write(out / "index.html", pages.overview_page(ov, colors, title, extra=overview_card(evals) if evals else ""))
    _write(out / "tasks.html", pages.list_page("tasks", "Tasks"))
    _write(out / "runs.html", pages.list_page("runs", "Trajectories"))
    _write(out / "run.html", pages.viewer_page())

    task_ids = list(dict.fromkeys([*task_by_id, *by_task]))
    total = len(task_ids)
    for done, task_id in enumerate(task_ids, start=1):
        task = task_by_id.get(task_id)
        if task is not None:
            _write(out / task_file(task_id), pages.task_page(task, task_data_file(task_id)))
        _write(out / task_data_file(task_id),
               "window.SA_TASK = " + script_json(task_data(task_id, task, by_task.get(task_id, []), colors)) + ";\n")
        if progress is not None:
            progress(done, total)

    _write(out / "data" / "index.js", "window.SA_DATA = " + script_json(_index_data(task_by_id, runs, colors)) + ";\n")
    return out / "index.html"


# ------------------------------------------------------------------------------------ per-task data


def task_data(task_id: str, task: Task | None, runs: list[Trajectory], colors: dict[str, str]) -> dict:
    """One task's runs for the viewer, with what they share stored once.

    Shared tables: `strs` (every text of INTERN_MIN characters or more, once: system prompts with the tool
    schemas and policy, user turns and tool outputs that repeat across samples, judge evidence), `crits`
    (rubric items as [id, section code, criterion]). A run keeps only what is its own: `m` messages as
    [actor code, content, name, error, [[call id, tool, arguments]]], `res` as [reward, success, gate,
    sub-goal fraction, interaction fraction, [[crit index, met, by judge, message index, evidence]]].
    A text field holds either a short string or the index of its entry in `strs`. Strings are capped
    (`markup.cap`).
    """
    strs: dict[str, int] = {}

    def text(value: str | None) -> str | int | None:
        if value is None or len(value) < INTERN_MIN:
            return value
        return strs.setdefault(cap(value), len(strs))

    crits: dict[tuple[str, str, str], int] = {}
    policies = list(dict.fromkeys(r.policy for r in runs))
    rows = []
    for r in runs:
        messages = []
        for m in r.messages:
            row: list = [ACTOR_CODES.get(m.actor, 0), text(m.content), m.name or "", int(m.error)]
            if m.tool_calls:
                row.append([[c.id, c.function.name, text(c.function.arguments)] for c in m.tool_calls])
            messages.append(row)
        run: dict = {"p": policies.index(r.policy), "s": r.sample, "seed": r.seed, "end": r.termination,
                     "c": [r.counters.agent_turns, r.counters.user_turns, r.counters.tool_calls, r.counters.tool_errors],
                     "m": messages}
        if r.answer:
            run["ans"] = text(r.answer)
        if r.fault is not None:
            run["fault"] = [r.fault.role, cap(r.fault.message)]
        if r.metrics:
            run["met"] = r.metrics
        if r.counters.tokens:
            run["tok"] = r.counters.tokens
        res = r.result
        if res is not None:
            items = [[crits.setdefault((v.id, v.section, v.criterion), len(crits)), int(v.met), int(v.method == "judge"),
                      v.message_index, text(v.evidence)] for v in res.items]
            run["res"] = [res.reward, int(res.success), res.gate, res.subgoal_fraction, res.interaction_fraction, items]
        rows.append(run)
    info: dict = {"id": task_id, "page": task is not None,
                  "domain": task.domain if task else (runs[0].domain if runs else "?"),
                  "difficulty": task.difficulty if task else (runs[0].difficulty if runs else 0)}
    if task is not None:
        info["instruction"] = cap(task.instruction)
        info["background"] = cap(task.user_background or "")
        info["private"] = [[s.name, cap(s.value if isinstance(s.value, str) else pages.json_text(s.value))]
                           for s in task.private_info]
    return {
        "task": info,
        "strs": list(strs),
        "crits": [[i, SECTION_CODES[s], c] for i, s, c in crits],
        "policies": policies,
        "colors": [colors.get(p, "#999") for p in policies],
        "runs": rows,
    }


# ---------------------------------------------------------------------------------------- list data


def _index_data(task_by_id: dict[str, Task], runs: list[Trajectory], colors: dict[str, str]) -> dict:
    """Compact rows for the list pages: ids and texts interned into tables, rows as arrays.

    Task rows: [id, domain, difficulty, instruction (clipped), key, tools, has a page].
    Run rows: [task row, policy, sample, reward, success, termination, index among the task's runs,
    failed items, fault message or null].
    """
    task_index: dict[str, int] = {}
    task_rows: list[list] = []

    def task_idx(task_id: str, fallback: Trajectory | None = None) -> int:
        if task_id not in task_index:
            t = task_by_id.get(task_id)
            task_index[task_id] = len(task_rows)
            if t is not None:
                task_rows.append([t.id, t.domain, t.difficulty, clip(t.instruction, 180), task_key(t.id),
                                  len(t.tools), 1])
            else:
                task_rows.append([task_id, fallback.domain if fallback else "?",
                                  fallback.difficulty if fallback else 0, "(task not in the tasks file)",
                                  task_key(task_id), 0, 0])
        return task_index[task_id]

    for t in task_by_id.values():
        task_idx(t.id)
    policies = list(colors)
    policy_index = {p: i for i, p in enumerate(policies)}
    crit_index: dict[str, int] = {}
    position: dict[str, int] = defaultdict(int)
    run_rows = []
    for r in runs:
        failed = []
        res = r.result
        if res is not None:
            for v in res.items:
                if not v.met:
                    ci = crit_index.setdefault(v.criterion, len(crit_index))
                    failed.append([v.id, SECTION_CODES[v.section], ci])
        scored = res is not None and r.fault is None
        run_rows.append([task_idx(r.task_id, r), policy_index[r.policy], r.sample,
                         round(res.reward, 4) if scored else None,
                         int(res.success) if scored else None, r.termination, position[r.task_id], failed,
                         clip(f"{r.fault.role}: {r.fault.message}", 200) if r.fault else None])
        position[r.task_id] += 1
    return {
        "tasks": task_rows,
        "policies": policies,
        "colors": [colors[p] for p in policies],
        "criteria": list(crit_index),
        "runs": run_rows,
    }
