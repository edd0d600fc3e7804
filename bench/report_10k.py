"""Benchmark the HTML report at scale: 10,000 trajectories over 625 tasks (4 policies × 4 samples).

Prints: report generation time (target < 60 s), output size, and page load times in headless Chromium —
the overview (target < 2 s), the trajectory list with all 10,000 rows' data, one filter over them, a task
page and a trajectory page. Figures only; nothing here asserts.

    .venv/bin/python bench/report_10k.py [--tasks 625] [--k 4] [--out out/bench-report]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))  # the report's test fixtures

from browser import Chromium, find_chromium  # noqa: E402
from report_fixtures import sample_report_data  # noqa: E402

from synthagent.report import write_report  # noqa: E402
from synthagent.report.build import run_href, task_file  # noqa: E402


def size_of(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def load_times(browser: Chromium, url: Path | str, repeat: int = 3) -> tuple[float, float]:
    """(median wall time from navigate to load event, median performance-timing load) in seconds."""
    wall, nav = [], []
    for _ in range(repeat):
        browser.goto("about:blank")
        wall.append(browser.goto(url))
        t = browser.eval("(() => { const e = performance.getEntriesByType('navigation')[0];"
                         " return e.loadEventEnd - e.startTime; })()")
        nav.append(t / 1000)
    return statistics.median(wall), statistics.median(nav)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=625)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--out", type=Path, default=None, help="keep the report here (default: a temp folder)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    tasks, runs = sample_report_data(args.tasks, k=args.k)
    t_data = time.perf_counter() - t0
    print(f"data: {len(tasks)} tasks, {len(runs)} trajectories "
          f"({sum(len(r.messages) for r in runs)} messages), built in {t_data:.1f} s (not part of the report time)")

    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="synthagent-report-bench-")
        out = Path(tmp.name) / "report"
    t0 = time.perf_counter()
    index = write_report(tasks, runs, out)
    t_write = time.perf_counter() - t0
    n_files, n_bytes = size_of(out)
    data_kb = (out / "data" / "index.js").stat().st_size / 1024
    print(f"generate: {t_write:.1f} s (target < 60 s); {n_files} files, {n_bytes / 2**20:.1f} MiB; "
          f"index.html {index.stat().st_size / 1024:.0f} KiB; data/index.js {data_kb:.0f} KiB")

    if find_chromium() is None:
        print("browser: skipped (no chromium installed)")
        return
    with Chromium() as b:
        wall, nav = load_times(b, index)
        print(f"overview load: {wall:.3f} s wall, {nav:.3f} s navigation→load (target < 2 s)")
        wall, nav = load_times(b, out / "runs.html")
        rows = b.eval("document.querySelectorAll('#list tbody tr').length")
        print(f"trajectory list load (all {len(runs)} rows as data, {rows} rendered): {wall:.3f} s wall, "
              f"{nav:.3f} s navigation→load")
        ms = b.eval("""(() => { const c = document.getElementById('f-item'); const t = performance.now();
            c.value = 'identity'; c.dispatchEvent(new Event('input')); return performance.now() - t; })()""")
        hits = b.eval("document.getElementById('count').dataset.matches")
        print(f"filter over {len(runs)} trajectories (failed-item text): {ms:.1f} ms, {hits} match")
        wall, nav = load_times(b, out / "tasks.html")
        print(f"task list load: {wall:.3f} s wall")
        wall, _ = load_times(b, out / task_file(tasks[0].id))
        print(f"task page load: {wall:.3f} s wall")
        first_run = (out / "run.html").resolve().as_uri() + run_href(runs[0].task_id, 0)[len("run.html"):]
        wall, _ = load_times(b, first_run)
        print(f"trajectory page load: {wall:.3f} s wall")
        # A tool output of one unbroken 1 MB string: only the first characters are laid out until asked.
        blob = "x" * 1_000_000
        messages = [m.model_copy(update={"content": blob}) if m.actor == "tool" else m for m in runs[0].messages]
        big = out.parent / "report-1mb"
        write_report(tasks[:1], [runs[0].model_copy(update={"messages": messages, "task_id": tasks[0].id})], big)
        url = (big / "run.html").resolve().as_uri() + run_href(tasks[0].id, 0)[len("run.html"):]
        wall, _ = load_times(b, url)
        print(f"trajectory page with a 1 MB unbroken tool output: {wall:.3f} s wall")
        t = time.perf_counter()
        b.eval("new Promise(done => { const d = document.querySelector('#chat details.more');"
               " d.addEventListener('toggle', () => requestAnimationFrame(() => done(document.body.offsetHeight)));"
               " d.open = true; })")
        print(f"…opening its 'show all' expander (100,000 characters kept): {time.perf_counter() - t:.3f} s")
        b.eval("1")
        problems = b.problems()
        print(f"console problems: {len(problems)}" + (f" — first: {problems[0]}" if problems else ""))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
