"""Summaries of many scored trajectories: mean reward, success, pass@k and pass^k, by slice.

pass@k = 1 − C(n−c, k)/C(n, k) (some of k tries succeeds) and pass^k = C(c, k)/C(n, k) (all k tries
succeed, the reliability measure τ²-bench reports), each averaged over tasks with n ≥ k trials.

Each pass^k comes with a 95% interval from a seeded bootstrap over tasks (tasks, not trials, are the unit
that was sampled: τ²'s maintainers found two single runs must differ by 7–11 points to be outside noise),
and with the verdict flips across each task's trials (a task that passes and fails in turn is flaky, not
hard). Unscored trials are never a verdict: they are counted apart and left out of both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from math import ceil, comb
from random import Random
from typing import Any

from synthagent.spec.models import Trajectory


def pass_at_k(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    return comb(c, k) / comb(n, k)


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def bootstrap_interval(per_task: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of `per_task` values, resampling tasks with replacement (nearest rank)."""
    if not per_task:
        raise ValueError("no tasks to resample")
    rng, n = Random(seed), len(per_task)
    means = sorted(sum(per_task[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1.0 - level) / 2
    return means[max(0, ceil(tail * resamples) - 1)], means[ceil((1.0 - tail) * resamples) - 1]


def verdict_flips(verdicts: list[bool]) -> int:
    """How often the verdict changes from one trial to the next, in sample order (TFTT → 2)."""
    return sum(a != b for a, b in zip(verdicts, verdicts[1:]))


def attribute(t: Trajectory) -> str:
    """Who is to blame for a failed episode: a simulator fault first, else the agent."""
    if t.metrics.get("user_faults", 0) or t.metrics.get("empty_user_turns", 0) or t.metrics.get("premature_stop", 0):
        return "user_simulator"
    if t.metrics.get("tool_schema_violations", 0) or t.metrics.get("tool_faults", 0):
        return "tool_simulator"
    return "agent"


def _faults(runs: list[Trajectory]) -> dict[str, Any]:
    """Unscored episodes: how many, by failing role, and the first error message (what a user must fix)."""
    faulted = [t for t in runs if t.unscored]
    if not faulted:
        return {"unscored": 0}
    by_role: dict[str, int] = defaultdict(int)
    for t in faulted:
        by_role[t.fault.role] += 1
    return {"unscored": len(faulted), "faults": dict(sorted(by_role.items())), "first_fault": faulted[0].fault.message}


def _summarize(runs: list[Trajectory]) -> dict[str, Any]:
    scored = [t for t in runs if t.result is not None and not t.unscored]
    if not scored:
        return {"n": len(runs), "scored": 0, **_faults(runs)}
    per_task: dict[str, list[bool]] = defaultdict(list)
    for t in sorted(scored, key=lambda t: (t.task_id, t.sample)):
        per_task[t.task_id].append(t.result.success)
    k_max = min(len(v) for v in per_task.values())
    out: dict[str, Any] = {
        "n": len(runs),
        "scored": len(scored),
        **_faults(runs),
        "tasks": len(per_task),
        "mean_reward": round(sum(t.result.reward for t in scored) / len(scored), 4),
        "success_rate": round(sum(t.result.success for t in scored) / len(scored), 4),
    }
    for k in sorted({1, 2, 4, 8, 16, k_max}):
        if 1 <= k <= k_max:
            out[f"pass@{k}"] = round(sum(pass_at_k(len(v), sum(v), k) for v in per_task.values()) / len(per_task), 4)
            out[f"pass^{k}"] = round(sum(pass_hat_k(len(v), sum(v), k) for v in per_task.values()) / len(per_task), 4)
    for k in range(1, k_max + 1):
        per_k = [pass_hat_k(len(v), sum(v), k) for v in per_task.values()]
        out[f"pass^{k}"] = round(sum(per_k) / len(per_k), 4)
        out.setdefault("interval95", {})[f"pass^{k}"] = [round(x, 4) for x in bootstrap_interval(per_k)]
    out["bootstrap"] = {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "unit": "task"}
    flips = {task: verdict_flips(v) for task, v in per_task.items()}
    out["verdict_flips"] = {"tasks_flipping": sum(f > 0 for f in flips.values()), "flips": sum(flips.values()),
                            "per_task": {task: f for task, f in flips.items() if f}}
    failures = defaultdict(int)
    for t in scored:
        if not t.result.success:
            failures[attribute(t)] += 1
    out["failure_attribution"] = dict(sorted(failures.items()))
    metric_names = sorted({m for t in runs for m in t.metrics})
    if metric_names:
        out["simulator"] = {m: round(sum(t.metrics.get(m, 0.0) for t in runs) / len(runs), 4) for m in metric_names}
    return out


def summarize(runs: Iterable[Trajectory]) -> dict[str, Any]:
    """{policy: {overall…, by_domain: {…}, by_difficulty: {…}}}."""
    by_policy: dict[str, list[Trajectory]] = defaultdict(list)
    for t in runs:
        by_policy[t.policy].append(t)
    summary: dict[str, Any] = {}
    for policy, items in sorted(by_policy.items()):
        entry = _summarize(items)
        for attr, name in (("domain", "by_domain"), ("difficulty", "by_difficulty")):
            groups: dict[Any, list[Trajectory]] = defaultdict(list)
            for t in items:
                groups[getattr(t, attr)].append(t)
            entry[name] = {str(g): _summarize(v) for g, v in sorted(groups.items())}
        summary[policy] = entry
    return summary


def per_task_outcomes(trials: Iterable[tuple[str, Trajectory, str]]) -> dict[str, dict[str, Any]]:
    """Each task's trials in sample order, as an eval result lists them: the verdict of every trial (True,
    False, or None when unscored), the scored rewards, the unscored count, how each ended and the flips.

    `trials`: (the task id to report it under, the trajectory, how it ended in the benchmark's words): a
    benchmark's own id (τ²'s "12", not our prefixed one) and reason (τ²'s "too_many_errors").
    Flips count scored verdicts only, as `summarize` does, so the two agree.
    """
    grouped: dict[str, list[tuple[Trajectory, str]]] = defaultdict(list)
    for task_id, t, ended in trials:
        grouped[task_id].append((t, ended))
    out: dict[str, dict[str, Any]] = {}
    for task_id in sorted(grouped):
        pairs = sorted(grouped[task_id], key=lambda pair: pair[0].sample)
        runs = [t for t, _ in pairs]
        verdicts = [None if t.unscored or t.result is None else bool(t.result.success) for t in runs]
        out[task_id] = {"verdicts": verdicts,
                        "rewards": [t.result.reward for t in runs if t.result is not None and not t.unscored],
                        "unscored": sum(1 for t in runs if t.unscored),
                        "terminations": [ended for _, ended in pairs],
                        "flips": verdict_flips([v for v in verdicts if v is not None])}
    return out
