"""Score a trajectory against its task's rubric: programmatic checks, an optional judge, the reward.

R(τ) = gate · (w_s · S + w_i · I) / (w_s + w_i), where gate is 0 if any forbidden behaviour happened,
S is the fraction of sub-goals met and I the fraction of required interactions met (the paper uses equal
weights; the authors' code used 0.7/0.3, available as `RewardConfig(subgoal_weight=0.7,
interaction_weight=0.3)`). A component with no items drops out and the other carries the whole weight,
so a task with no hidden slots is scored on its sub-goals alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from synthagent.reward.checks import CHECKS, facts
from synthagent.reward.replay import replay
from synthagent.sim.interfaces import resolve
from synthagent.spec.models import ItemVerdict, RubricItem, RubricResult, Task, Trajectory

Judge = Callable[[Task, Trajectory, list[tuple[str, RubricItem]]], list[ItemVerdict]]
AsyncJudge = Callable[[Task, Trajectory, list[tuple[str, RubricItem]]], Awaitable[list[ItemVerdict]]]


@dataclass(frozen=True)
class RewardConfig:
    subgoal_weight: float = 0.5
    interaction_weight: float = 0.5
    success_threshold: float = 1.0


class ScoringError(ValueError):
    """The rubric cannot be scored as asked (e.g. items with no check and no judge)."""


def programmatic_verdicts(task: Task, trajectory: Trajectory
                          ) -> tuple[list[ItemVerdict], list[tuple[str, RubricItem]]]:
    """Verdicts for every item that has a check, and the (section, item) pairs left for a judge."""
    if trajectory.task_id != task.id:
        raise ScoringError(f"trajectory is for task {trajectory.task_id}, not {task.id}")
    f = facts(task, trajectory, replay(task, trajectory))  # replay loads the task's world kind and its check ops
    verdicts: list[ItemVerdict] = []
    for_judge: list[tuple[str, RubricItem]] = []
    for section, items in task.rubric.sections():
        for item in items:
            if item.check is None:
                for_judge.append((section, item))
                continue
            check = CHECKS.get(item.check.op)
            if check is None:
                raise ScoringError(f"task {task.id}: rubric item {item.id} uses check op {item.check.op!r}, which "
                                   f"neither the scorer nor the {task.world.kind} world kind implements")
            met, evidence, index = check(f, item.check.args)
            verdicts.append(ItemVerdict.model_construct(id=item.id, section=section, criterion=item.criterion,
                                                        met=met, evidence=evidence, message_index=index,
                                                        method="check"))
    return verdicts, for_judge


def _need_judge(task: Task, for_judge: list[tuple[str, RubricItem]]) -> ScoringError:
    return ScoringError(f"task {task.id}: {len(for_judge)} rubric item(s) have no programmatic check "
                        f"(first: {for_judge[0][1].id}); pass a judge to score them")


def score(task: Task, trajectory: Trajectory, config: RewardConfig = RewardConfig(),
          judge: Judge | None = None) -> RubricResult:
    """Score synchronously; a judge, if needed, must be a plain function (see `score_async` for LLM judges)."""
    verdicts, for_judge = programmatic_verdicts(task, trajectory)
    if for_judge:
        if judge is None:
            raise _need_judge(task, for_judge)
        verdicts.extend(judge(task, trajectory, for_judge))
    return aggregate(task.id, verdicts, config)


async def score_async(task: Task, trajectory: Trajectory, config: RewardConfig = RewardConfig(),
                      judge: AsyncJudge | Judge | None = None) -> RubricResult:
    """Hybrid scoring: programmatic checks where items have them, the (possibly async) judge for the rest."""
    verdicts, for_judge = programmatic_verdicts(task, trajectory)
    if for_judge:
        if judge is None:
            raise _need_judge(task, for_judge)
        verdicts.extend(await resolve(judge(task, trajectory, for_judge)))
    return aggregate(task.id, verdicts, config)


def aggregate(task_id: str, verdicts: list[ItemVerdict], config: RewardConfig = RewardConfig()) -> RubricResult:
    def fraction(section: str) -> float | None:
        items = [v for v in verdicts if v.section == section]
        return sum(v.met for v in items) / len(items) if items else None

    gate = 0.0 if any(not v.met for v in verdicts if v.section == "forbidden") else 1.0
    sub, inter = fraction("subgoals"), fraction("interactions")
    parts = [(config.subgoal_weight, sub), (config.interaction_weight, inter)]
    weight = sum(w for w, x in parts if x is not None)
    base = sum(w * x for w, x in parts if x is not None) / weight if weight else 1.0
    reward = round(gate * base, 6)
    return RubricResult(task_id=task_id, items=verdicts, gate=gate, subgoal_fraction=sub,
                        interaction_fraction=inter, reward=reward,
                        success=reward >= config.success_threshold - 1e-9)
