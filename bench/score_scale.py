"""`score --json`, `report` and `rollout` resume at scale: time, peak RSS, report size and file count.

Makes `--tasks` procedural tasks and rolls out oracle and eager with `--k` samples each (16,000 runs at
the defaults), then times each command in a child process and reads the child's peak RSS from
`getrusage(RUSAGE_CHILDREN)` (one fresh child per figure, so each peak is its own). The resume figure
reruns the finished rollout, which reads the runs file and runs nothing: its RSS is what resuming costs.

    python bench/score_scale.py [--tasks 1000] [--k 8] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process running the CLI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-c", "import resource, runpy, sys\n"
         "from synthagent.cli import app\n"
         "try:\n    app()\nexcept SystemExit as e:\n    code = e.code or 0\nelse:\n    code = 0\n"
         "sys.stderr.write(f'RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')\nsys.exit(code)",
         *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if code.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({code.returncode}): {code.stderr[-2000:]}")
    rss_kb = int(code.stderr.rsplit("RSS ", 1)[1].split()[0])
    return seconds, rss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="score-scale-"))
    tasks, runs = work / "tasks.jsonl", work / "runs.jsonl"
    secs, rss = timed(["synth", "procedural", "--out", str(tasks), "--n", str(args.tasks)])
    print(f"synth procedural {args.tasks} tasks: {secs:.1f} s, peak RSS {rss:.0f} MB")
    fresh = {}
    for policy in ("oracle", "eager"):
        fresh[policy] = timed(["rollout", "--tasks", str(tasks), "--policy", policy, "--out", str(runs),
                               "--k", str(args.k)])
        print(f"rollout {policy} fresh: {fresh[policy][0]:.1f} s, peak RSS {fresh[policy][1]:.0f} MB")
    n_runs = sum(1 for _ in runs.open())
    print(f"runs: {n_runs}, file {runs.stat().st_size / 1e6:.1f} MB")
    secs, rss = timed(["rollout", "--tasks", str(tasks), "--policy", "eager", "--out", str(runs), "--k", str(args.k)])
    print(f"rollout eager resume (nothing left to run): {secs:.1f} s, peak RSS {rss:.0f} MB "
          f"(fresh run of the same policy: {fresh['eager'][1]:.0f} MB)")
    with (work / "score.json").open("w") as sink:
        secs, rss = timed(["score", "--runs", str(runs), "--json"], stdout=sink)
    print(f"score --json: {secs:.1f} s, peak RSS {rss:.0f} MB, output {(work / 'score.json').stat().st_size / 1e6:.1f} MB")
    report = work / "report"
    secs, rss = timed(["report", "--tasks", str(tasks), "--runs", str(runs), "--out", str(report)])
    files = [p for p in report.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"report: {secs:.1f} s, peak RSS {rss:.0f} MB, {size / 1e6:.1f} MB in {len(files)} files")


if __name__ == "__main__":
    main()
