"""Aggregates the overview shows: per-policy reward, success, pass^k, distributions, grids, metrics.

Pure functions over trajectories; unscored trajectories (a `fault`, or no `result`) are counted but never
averaged, and their fault messages are counted by (role, message) so the overview can show what failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from synthagent.rollout.metrics import pass_hat_k
from synthagent.spec.models import Task, Trajectory

BINS = 10


def mean_pass_hat_k(successes_per_task: list[tuple[int, int]], k: int) -> float | None:
    """τ-bench's pass^k: the chance that k samples of a task, drawn without replacement, all succeed.

    `successes_per_task` holds (n samples, c successes) per task; tasks with fewer than k samples are left
    out. None when no task has k samples.
    """
    terms = [pass_hat_k(n, c, k) for n, c in successes_per_task if n >= k]
    return sum(terms) / len(terms) if terms else None


def reward_bin(reward: float) -> int:
    return min(BINS - 1, max(0, int(reward * BINS)))


@dataclass
class PolicyStats:
    name: str
    n: int = 0
    scored: int = 0
    tasks: int = 0
    reward_sum: float = 0.0
    successes: int = 0
    gate_failures: int = 0
    subgoal: list[float] = field(default_factory=list)
    interaction: list[float] = field(default_factory=list)
    hist: list[int] = field(default_factory=lambda: [0] * BINS)
    terminations: Counter[str] = field(default_factory=Counter)
    tool_calls: int = 0
    tool_errors: int = 0
    agent_turns: int = 0
    metrics: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    k: int = 0
    pass_k: float | None = None

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.scored if self.scored else None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.scored if self.scored else None

    @property
    def gate_failure_rate(self) -> float | None:
        return self.gate_failures / self.scored if self.scored else None

    @property
    def subgoal_mean(self) -> float | None:
        return sum(self.subgoal) / len(self.subgoal) if self.subgoal else None

    @property
    def interaction_mean(self) -> float | None:
        return sum(self.interaction) / len(self.interaction) if self.interaction else None

    @property
    def tool_error_rate(self) -> float | None:
        return self.tool_errors / self.tool_calls if self.tool_calls else None

    def metric_mean(self, name: str) -> float | None:
        values = self.metrics.get(name)
        return sum(values) / len(values) if values else None


@dataclass
class Cell:
    reward_sum: float = 0.0
    n: int = 0

    @property
    def mean(self) -> float | None:
        return self.reward_sum / self.n if self.n else None


@dataclass
class Overview:
    policies: list[PolicyStats]
    domains: list[str]
    difficulties: list[int]
    grid: dict[tuple[str | None, str, int], Cell]  # (policy or None for all, domain, difficulty)
    metric_names: list[str]
    failures: dict[tuple[str, str], dict[str, tuple[int, int]]]  # (section, check) -> policy -> (failed, total)
    n_tasks: int
    n_runs: int
    n_unscored: int
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)  # (role, message) -> runs


def is_scored(run: Trajectory) -> bool:
    """A run counts in averages only with a result and no fault (a fault says nothing about the agent)."""
    return run.result is not None and run.fault is None


def policy_order(runs: list[Trajectory]) -> list[str]:
    """Policies in order of first appearance, so the input decides the order, not the alphabet."""
    return list(dict.fromkeys(r.policy for r in runs))


def overview(tasks: list[Task], runs: list[Trajectory]) -> Overview:
    by_id = {t.id: t for t in tasks}
    stats = {name: PolicyStats(name) for name in policy_order(runs)}
    grid: dict[tuple[str | None, str, int], Cell] = defaultdict(Cell)
    per_task: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    failures: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    check_of: dict[str, dict[str, str]] = {}
    for t in tasks:
        check_of[t.id] = {item.id: (item.check.op if item.check else "judge")
                          for _, group in t.rubric.sections() for item in group}
    metric_names: dict[str, None] = {}
    domains: dict[str, None] = {}
    difficulties: set[int] = set()
    n_unscored = 0
    faults: Counter[tuple[str, str]] = Counter()
    for r in runs:
        s = stats[r.policy]
        s.n += 1
        s.terminations[r.termination] += 1
        s.tool_calls += r.counters.tool_calls
        s.tool_errors += r.counters.tool_errors
        s.agent_turns += r.counters.agent_turns
        for name, value in r.metrics.items():
            metric_names.setdefault(name)
            s.metrics[name].append(value)
        task = by_id.get(r.task_id)
        domain = task.domain if task else (r.domain or "?")
        difficulty = task.difficulty if task else r.difficulty
        domains.setdefault(domain)
        difficulties.add(difficulty)
        res = r.result
        if r.fault is not None:
            faults[(r.fault.role, r.fault.message)] += 1
        if res is None or not is_scored(r):
            n_unscored += 1
            continue
        s.scored += 1
        s.reward_sum += res.reward
        s.successes += res.success
        s.gate_failures += res.gate == 0
        if res.subgoal_fraction is not None:
            s.subgoal.append(res.subgoal_fraction)
        if res.interaction_fraction is not None:
            s.interaction.append(res.interaction_fraction)
        s.hist[reward_bin(res.reward)] += 1
        per_task[r.policy][r.task_id].append(res.success)
        for key in ((None, domain, difficulty), (r.policy, domain, difficulty)):
            cell = grid[key]
            cell.reward_sum += res.reward
            cell.n += 1
        checks = check_of.get(r.task_id, {})
        for v in res.items:
            counts = failures[(v.section, checks.get(v.id, v.method))][r.policy]
            counts[0] += not v.met
            counts[1] += 1
    for name, s in stats.items():
        samples = [(len(x), sum(x)) for x in per_task[name].values()]
        s.tasks = len(samples)
        if samples:
            s.k = min(n for n, _ in samples)
            s.pass_k = mean_pass_hat_k(samples, s.k)
    section_rank = {"forbidden": 0, "subgoals": 1, "interactions": 2}
    return Overview(
        policies=list(stats.values()),
        domains=sorted(domains),
        difficulties=sorted(difficulties),
        grid=dict(grid),
        metric_names=list(metric_names),
        failures={key: {p: (c[0], c[1]) for p, c in by_policy.items()}
                  for key, by_policy in sorted(failures.items(), key=lambda kv: (section_rank[kv[0][0]], kv[0][1]))},
        n_tasks=len({t.id for t in tasks} | {r.task_id for r in runs}),
        n_runs=len(runs),
        n_unscored=n_unscored,
        faults=faults,
    )
