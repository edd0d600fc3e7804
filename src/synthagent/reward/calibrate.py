"""How far to trust the judge: its agreement with programmatic checks on items that have both.

For every trajectory whose task is known, the items with a programmatic check are decided by the check
(ground truth) and also sent to the judge as if they had none. The report gives agreement overall and per
section, confusion counts (positive = item met) and Cohen's kappa, which discounts the agreement two
graders reach by chance when most items go one way. Kappa is None where it is undefined (both graders
gave a single, identical label to everything, so chance agreement is already 1).

Trajectories whose judge call fails after retries are unscored: skipped, counted (`judge_failures`) and
listed with the reason, never silently dropped and never counted as a disagreement.

Red-team trajectories (`red_team_runs`: the reference policies that try to game the reward, played on every
task that needs no model) are judged like any other; the report gives the judge's pass rate on them apart,
beside the checks' — a judge that passes stuffed or guessed answers shows up there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from synthagent.reward.scorer import JudgeError, ScoringError, programmatic_verdicts
from synthagent.sim.interfaces import resolve
from synthagent.sim.kinds import RoutedTools, RoutedUsers, world_kind
from synthagent.sim.reference import RED_TEAM, reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.spec.models import ItemVerdict, Task, Trajectory

SECTIONS = ("forbidden", "subgoals", "interactions")


@dataclass
class Confusion:
    """Positive = met. tp: both met; tn: both not met; fp: judge met, check not; fn: judge not, check met."""

    tp: int = 0
    tn: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, check_met: bool, judge_met: bool) -> None:
        if check_met and judge_met:
            self.tp += 1
        elif not check_met and not judge_met:
            self.tn += 1
        elif judge_met:
            self.fp += 1
        else:
            self.fn += 1

    @property
    def n(self) -> int:
        return self.tp + self.tn + self.fp + self.fn

    @property
    def agreement(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.tp, self.tn, self.fp, self.fn)

    def summary(self) -> dict[str, Any]:
        return {"n": self.n, "agreement": _round(self.agreement), "kappa": _round(self.kappa),
                "tp": self.tp, "tn": self.tn, "fp": self.fp, "fn": self.fn}


def cohen_kappa(tp: int, tn: int, fp: int, fn: int) -> float | None:
    n = tp + tn + fp + fn
    if not n:
        return None
    observed = (tp + tn) / n
    chance = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass
class Disagreement:
    task_id: str
    policy: str
    sample: int
    item_id: str
    section: str
    check_met: bool
    judge_met: bool
    check_evidence: str
    judge_evidence: str


@dataclass
class CalibrationReport:
    overall: Confusion = field(default_factory=Confusion)
    sections: dict[str, Confusion] = field(default_factory=lambda: {s: Confusion() for s in SECTIONS})
    by_op: dict[str, Confusion] = field(default_factory=dict)
    red_team: Confusion = field(default_factory=Confusion)
    trajectories: int = 0
    judge_failures: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)

    def summary(self, max_disagreements: int = 20) -> dict[str, Any]:
        return {
            "trajectories": self.trajectories,
            "items": self.overall.n,
            "judge_failures": self.judge_failures,
            "overall": self.overall.summary(),
            "sections": {s: c.summary() for s, c in self.sections.items()},
            "by_check": {op: c.summary() for op, c in sorted(self.by_op.items())},
            "red_team": {**self.red_team.summary(),
                         "judge_pass_rate": _round((self.red_team.tp + self.red_team.fp) / self.red_team.n
                                                   if self.red_team.n else None),
                         "check_pass_rate": _round((self.red_team.tp + self.red_team.fn) / self.red_team.n
                                                   if self.red_team.n else None)},
            "skipped": self.skipped,
            "disagreements": [d.__dict__ for d in self.disagreements[:max_disagreements]],
        }


async def calibrate(tasks: Iterable[Task], runs: Iterable[Trajectory], judge: Any, *,
                    concurrency: int = 8) -> CalibrationReport:
    """Judge every check-backed item of every run whose task is in `tasks`; compare with the checks."""
    by_id = {t.id: t for t in tasks}
    report = CalibrationReport()
    gate = asyncio.Semaphore(max(1, concurrency))
    jobs = []
    for traj in runs:
        task = by_id.get(traj.task_id)
        if task is None:
            report.skipped.append({"task_id": traj.task_id, "policy": traj.policy, "sample": traj.sample,
                                   "reason": "task not in the task file"})
            continue
        jobs.append((task, traj))

    async def one(task: Task, traj: Trajectory) -> tuple[Task, Trajectory, list[ItemVerdict], list[ItemVerdict], str | None]:
        try:
            checked, _ = programmatic_verdicts(task, traj)
        except ScoringError as err:
            return task, traj, [], [], str(err)
        if not checked:
            return task, traj, [], [], None
        items = {item.id: (section, item) for section, section_items in task.rubric.sections()
                 for item in section_items}
        pairs = [items[v.id] for v in checked]
        async with gate:
            try:
                judged = await resolve(judge(task, traj, pairs))
            except JudgeError as err:
                return task, traj, checked, [], f"judge failed: {err}"
            except ScoringError as err:
                return task, traj, checked, [], str(err)
        return task, traj, checked, list(judged), None

    results = await asyncio.gather(*(one(task, traj) for task, traj in jobs))
    for task, traj, checked, judged, error in results:
        if error is not None:
            report.judge_failures += error.startswith("judge failed: ")
            report.skipped.append({"task_id": traj.task_id, "policy": traj.policy, "sample": traj.sample,
                                   "reason": error})
            continue
        if not checked:
            continue
        report.trajectories += 1
        ops = {item.id: item.check.op for _, section_items in task.rubric.sections() for item in section_items
               if item.check is not None}
        verdict_of = {v.id: v for v in judged}
        for truth in checked:
            guess = verdict_of.get(truth.id)
            if guess is None:
                report.skipped.append({"task_id": traj.task_id, "policy": traj.policy, "sample": traj.sample,
                                       "reason": f"judge gave no verdict for item {truth.id}"})
                continue
            report.overall.add(truth.met, guess.met)
            report.sections[truth.section].add(truth.met, guess.met)
            report.by_op.setdefault(ops.get(truth.id, "?"), Confusion()).add(truth.met, guess.met)
            if traj.policy in RED_TEAM:
                report.red_team.add(truth.met, guess.met)
            if truth.met != guess.met:
                report.disagreements.append(Disagreement(traj.task_id, traj.policy, traj.sample, truth.id,
                                                         truth.section, truth.met, guess.met, truth.evidence,
                                                         guess.evidence))
    return report


def red_team_runs(tasks: Iterable[Task], seed: int = 0) -> list[Trajectory]:
    """One episode of every red-team policy on every task that plays without a model (procedural, τ²,
    reasoning): the trajectories a judge must not pay for."""
    users, tools = RoutedUsers(), RoutedTools()
    runs = []
    for task in tasks:
        if world_kind(task).needs_model:
            continue
        for name in RED_TEAM:
            runs.append(run_episode_sync(task, reference_policy(name), users, tools, seed=seed))
    return runs
