"""`synthagent demo`: the whole offline loop in one command, on the embedded procedural worlds.

Synthesize tasks in every domain (self-tested), roll out the reference and red-team policies, score every
episode, write `summary.json` and the HTML report. Everything is seeded, so two runs print the same table;
rerunning into the same folder resumes instead of redoing work.

Beside the plain tasks, a second set is sampled on policy-tree branches (`BRANCH_MIX`: a quarter each of
act, refuse, transfer and alternative, half the illegal requests from an adversarial user), so the table
also shows what each policy earns on legal and on illegal requests: `persuaded`, which gives in to anything,
scores on legal requests and must score 0 on illegal ones.
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
from synthagent.sim.kinds import RoutedTools, RoutedUsers
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task, Trajectory
from synthagent.synth.procedural import ProceduralPlan, synthesize_to_file
from synthagent.worlds import domain_names

BRANCH_MIX = "act=0.25,refuse=0.25,transfer=0.25,alternative=0.25,adversarial=0.5"


def _play(tasks: list[Task], runs_path: Path, seed: int, overwrite: bool) -> list[Trajectory]:
    for name in REFERENCE_POLICIES:
        asyncio.run(rollout(tasks, reference_policy(name), RoutedUsers(), RoutedTools(), runs_path,
                            RolloutConfig(k=1, seed=seed, overwrite=overwrite)))
    task_ids = {t.id for t in tasks}
    return [r for r in read_jsonl(runs_path, Trajectory) if r.task_id in task_ids]


def _mean_by_request(tasks: list[Task], runs: list[Trajectory]) -> dict[str, dict[str, float | None]]:
    """{policy: {"legal": mean reward, "illegal": mean reward}} over the scored runs of branched tasks."""
    illegal = {t.id: t.branch.illegal for t in tasks if t.branch is not None}
    sums: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        if run.result is None or run.task_id not in illegal:
            continue
        side = "illegal" if illegal[run.task_id] else "legal"
        sums.setdefault(run.policy, {"legal": [], "illegal": []})[side].append(run.result.reward)
    return {policy: {side: (round(sum(v) / len(v), 6) if v else None) for side, v in sides.items()}
            for policy, sides in sums.items()}


def run_demo(out: Path, per_domain: int = 5, seed: int = 0, console: Console | None = None, *,
             overwrite: bool = False) -> tuple[dict[str, Any], Path | None]:
    """Raises `ManifestMismatch` when `out` holds a demo made with another seed (`overwrite` starts again)."""
    console = console or Console(stderr=True, emoji=False)
    out.mkdir(parents=True, exist_ok=True)
    names = tuple(domain_names())
    plan = ProceduralPlan(domains=names, n=per_domain * len(names), seed=seed)
    tasks_path, runs_path = out / "tasks.jsonl", out / "runs.jsonl"
    kept, rejected = synthesize_to_file(plan, tasks_path, overwrite=overwrite)
    tasks = read_jsonl(tasks_path, Task)
    console.print(f"tasks: {len(tasks)} in {len(names)} domains ({kept} new, {rejected} rejected)", markup=False)
    runs = _play(tasks, runs_path, seed, overwrite)
    branched_plan = ProceduralPlan(domains=names, n=per_domain * len(names), seed=seed, mix=BRANCH_MIX)
    branched_path = out / "tasks-branched.jsonl"
    kept, rejected = synthesize_to_file(branched_plan, branched_path, overwrite=overwrite)
    branched = read_jsonl(branched_path, Task)
    n_illegal = sum(t.branch is not None and t.branch.illegal for t in branched)
    console.print(f"policy-tree tasks: {len(branched)} ({n_illegal} illegal requests; {kept} new, {rejected} rejected)",
                  markup=False)
    branched_runs = _play(branched, out / "runs-branched.jsonl", seed, overwrite)
    full = summarize(runs)
    summary = {
        "n_tasks": len(tasks),
        "domains": sorted({t.domain for t in tasks}),
        "policies": {p: {"mean_reward": s["mean_reward"], "success_rate": s["success_rate"]} for p, s in full.items()},
        "policy_trees": {"mix": BRANCH_MIX, "n_tasks": len(branched), "n_illegal": n_illegal,
                         "mean_reward": _mean_by_request(branched, branched_runs)},
        "details": full,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report_path = None
    try:
        from synthagent.report import write_report

        report_path = write_report(tasks + branched, runs + branched_runs, out / "report")
    except ImportError:  # pragma: no cover - the report ships with the package
        pass
    return summary, report_path
