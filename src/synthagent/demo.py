"""`synthagent demo`: the whole offline loop in one command, on the embedded procedural worlds.

Synthesize tasks in every domain (self-tested), roll out the reference and red-team policies, score every
episode, write `summary.json` and the HTML report. Everything is seeded, so two runs print the same table;
rerunning into the same folder resumes instead of redoing work.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from synthagent.rollout.metrics import summarize
from synthagent.sim.reference import REFERENCE_POLICIES, reference_policy
from synthagent.rollout.runner import RolloutConfig, rollout
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task, Trajectory
from synthagent.synth.procedural import ProceduralPlan, synthesize_to_file
from synthagent.worlds import domain_names


def run_demo(out: Path, per_domain: int = 5, seed: int = 0, console: Console | None = None, *,
             overwrite: bool = False) -> tuple[dict[str, Any], Path | None]:
    """Raises `ManifestMismatch` when `out` holds a demo made with another seed (`overwrite` starts again)."""
    console = console or Console(stderr=True)
    out.mkdir(parents=True, exist_ok=True)
    names = tuple(domain_names())
    plan = ProceduralPlan(domains=names, n=per_domain * len(names), seed=seed)
    tasks_path, runs_path = out / "tasks.jsonl", out / "runs.jsonl"
    kept, rejected = synthesize_to_file(plan, tasks_path, overwrite=overwrite)
    tasks = read_jsonl(tasks_path, Task)
    console.print(f"tasks: {len(tasks)} in {len(names)} domains ({kept} new, {rejected} rejected)", markup=False)
    for name in REFERENCE_POLICIES:
        asyncio.run(rollout(tasks, reference_policy(name), ScriptedUser(), ExecutableBackend(), runs_path,
                            RolloutConfig(k=1, seed=seed, overwrite=overwrite)))
    task_ids = {t.id for t in tasks}
    runs = [r for r in read_jsonl(runs_path, Trajectory) if r.task_id in task_ids]
    full = summarize(runs)
    summary = {
        "n_tasks": len(tasks),
        "domains": sorted({t.domain for t in tasks}),
        "policies": {p: {"mean_reward": s["mean_reward"], "success_rate": s["success_rate"]} for p, s in full.items()},
        "details": full,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report_path = None
    try:
        from synthagent.report import write_report

        report_path = write_report(tasks, runs, out / "report")
    except ImportError:  # pragma: no cover - the report ships with the package
        pass
    return summary, report_path
