"""`write_report`: tasks + scored trajectories → a static, self-contained HTML site.

Layout of the output folder:

    index.html          overview (aggregates only; light at any scale)
    tasks.html          task list, filtered in the browser from data/index.js
    runs.html           trajectory list, likewise (paginated; 10,000 rows stay fast)
    tasks/<id>.html     one page per task
    runs/<id>.html      one page per trajectory
    data/index.js       the lists' data, as a script (fetch() of local files is blocked under file://)
    assets/             style.css, app.js

File names are sha256 digests of the ids, so no id ever reaches a path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from importlib import resources
from pathlib import Path

from synthagent.report import pages
from synthagent.report.markup import clip, policy_color, script_json
from synthagent.report.stats import overview, policy_order
from synthagent.spec.models import Task, Trajectory

MARKER = ".synthagent-report"
SECTION_CODES = {"forbidden": 0, "subgoals": 1, "interactions": 2}
ASSETS = ("style.css", "app.js")


def _digest(*parts: object, n: int = 16) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:n]


def task_file(task_id: str) -> str:
    return f"tasks/{_digest('task', task_id)}.html"


def run_file(task_id: str, policy: str, sample: int) -> str:
    """The page of a run; a second run with the same (task, policy, sample) gets a `-2` suffix."""
    return f"runs/{_digest('run', task_id, policy, sample, n=20)}.html"


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _prepare(out: Path) -> None:
    """Create the folder; clear what an earlier report wrote there, and only that (marked by MARKER)."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / MARKER).exists():
        for sub in ("tasks", "runs", "data", "assets"):
            shutil.rmtree(out / sub, ignore_errors=True)
    for sub in ("tasks", "runs", "data", "assets"):
        (out / sub).mkdir(exist_ok=True)
    (out / MARKER).write_text("written by synthagent.report.write_report; the folder is rewritten on each run\n")


def write_report(tasks: list[Task], runs: list[Trajectory], out_dir: str | os.PathLike[str], *,
                 title: str = "synthagent report") -> Path:
    """Write the report into `out_dir` and return the path of its index.html.

    Tasks without runs still get a page; runs whose task is missing from `tasks` get a page that says so.
    Runs without a `result` are shown as unscored and left out of every average.
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

    # Every run gets a unique file, even when the inputs repeat a (task, policy, sample) key.
    files: list[str] = []
    used: set[str] = set()
    for r in runs:
        base = run_file(r.task_id, r.policy, r.sample)[: -len(".html")]
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        files.append(f"{name}.html")
    by_task: dict[str, list[tuple[Trajectory, str]]] = defaultdict(list)
    for r, f in zip(runs, files):
        by_task[r.task_id].append((r, f))

    ov = overview(list(task_by_id.values()), runs)
    _write(out / "index.html", pages.overview_page(ov, colors, title))
    _write(out / "tasks.html", pages.list_page("tasks", "Tasks"))
    _write(out / "runs.html", pages.list_page("runs", "Trajectories"))

    for t in task_by_id.values():
        _write(out / task_file(t.id), pages.task_page(t, by_task.get(t.id, []), colors))
    for r, f in zip(runs, files):
        task = task_by_id.get(r.task_id)
        _write(out / f, pages.run_page(r, task, task_file(r.task_id) if task else None, by_task[r.task_id], f, colors))

    _write(out / "data" / "index.js", "window.SA_DATA = " + script_json(_index_data(task_by_id, runs, files, colors))
           + ";\n")
    return out / "index.html"


def _index_data(task_by_id: dict[str, Task], runs: list[Trajectory], files: list[str],
                colors: dict[str, str]) -> dict:
    """Compact rows for the list pages: ids and texts interned into tables, rows as arrays."""
    task_index: dict[str, int] = {}
    task_rows: list[list] = []

    def task_idx(task_id: str, fallback: Trajectory | None = None) -> int:
        if task_id not in task_index:
            t = task_by_id.get(task_id)
            task_index[task_id] = len(task_rows)
            if t is not None:
                task_rows.append([t.id, t.domain, t.difficulty, clip(t.instruction, 180), task_file(t.id)[6:-5],
                                  len(t.tools)])
            else:
                task_rows.append([task_id, fallback.domain if fallback else "?",
                                  fallback.difficulty if fallback else 0, "(task not in the tasks file)", "", 0])
        return task_index[task_id]

    for t in task_by_id.values():
        task_idx(t.id)
    policies = list(colors)
    policy_index = {p: i for i, p in enumerate(policies)}
    crit_index: dict[str, int] = {}
    run_rows = []
    for r, f in zip(runs, files):
        failed = []
        res = r.result
        if res is not None:
            for v in res.items:
                if not v.met:
                    ci = crit_index.setdefault(v.criterion, len(crit_index))
                    failed.append([v.id, SECTION_CODES[v.section], ci])
        run_rows.append([task_idx(r.task_id, r), policy_index[r.policy], r.sample,
                         None if res is None else round(res.reward, 4),
                         None if res is None else int(res.success), r.termination, f[5:-5], failed])
    return {
        "tasks": task_rows,
        "policies": policies,
        "colors": [colors[p] for p in policies],
        "criteria": list(crit_index),
        "runs": run_rows,
    }
