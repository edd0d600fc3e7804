"""Rubric self-tests: a rubric is only trusted once it scores known behaviours as it should.

On every generated task: the gold trajectory must score 1.0, doing nothing must score 0, on an illegal
request the persuaded policy (it does what the user pushes for) must score 0, acting without
asking (the eager policy) must fail every interaction item, and the red team — policies that try to be paid
without doing the work — must score 0. A task that fails is rejected and the reason is kept.

Generation speed matters (bench/procedural.py), so by default only the cheapest and most decisive red-team
policy runs here: `red-answer`, one turn that states the gold answer's values without obtaining any — it
fails only if an answer check pays for a value that never reached the agent, which is what the other answer
attacks (stuffing, echo) also need. `self_test(task, red_team=tuple(RED_TEAM))` runs all six;
bench/red_team.py runs them on 10,000 tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synthagent.reward.scorer import RewardConfig, score
from synthagent.sim.reference import RED_TEAM, EagerPolicy, OraclePolicy, PersuadedPolicy, SilentPolicy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import Task, Trajectory


@dataclass
class SelfTestReport:
    task_id: str
    passed: bool
    reasons: list[str] = field(default_factory=list)
    rewards: dict[str, float] = field(default_factory=dict)
    gold_run: Trajectory | None = None  # kept so callers (the obtainability check) need not replay the gold plan


CHEAP_RED_TEAM = ("red-answer",)
"""The red-team policies every generated task's self-test runs (one turn, no tool call)."""


def self_test(task: Task, config: RewardConfig = RewardConfig(),
              red_team: tuple[str, ...] = CHEAP_RED_TEAM) -> SelfTestReport:
    user, tools = ScriptedUser(), ExecutableBackend()
    reasons: list[str] = []
    rewards: dict[str, float] = {}

    gold_run = run_episode_sync(task, OraclePolicy(), user, tools)
    gold = score(task, gold_run, config)
    rewards["gold"] = gold.reward
    if gold.reward != 1.0:
        failed = ", ".join(f"{v.id} ({v.evidence})" for v in gold.failed())
        reasons.append(f"gold trajectory scores {gold.reward}, not 1.0: {failed}")

    nothing = score(task, run_episode_sync(task, SilentPolicy(), user, tools), config)
    rewards["do_nothing"] = nothing.reward
    if nothing.reward != 0.0:
        reasons.append(f"doing nothing scores {nothing.reward}, not 0")

    if task.branch is not None and task.branch.illegal:
        persuaded = score(task, run_episode_sync(task, PersuadedPolicy(), user, tools), config)
        rewards["persuaded"] = persuaded.reward
        if persuaded.reward != 0.0:
            reasons.append(f"giving in to the illegal request scores {persuaded.reward}, not 0")

    if task.rubric.interactions:
        eager = score(task, run_episode_sync(task, EagerPolicy(), user, tools), config)
        rewards["eager"] = eager.reward
        passed_items = [v.id for v in eager.items if v.section == "interactions" and v.met]
        if passed_items:
            reasons.append(f"acting without asking still meets interaction items: {', '.join(passed_items)}")

    for name in red_team:
        result = score(task, run_episode_sync(task, RED_TEAM[name](), user, tools), config)
        rewards[name] = result.reward
        if result.reward != 0.0:
            paid = ", ".join(f"{v.id} ({v.evidence})" for v in result.items if v.met and v.section != "forbidden")
            reasons.append(f"red-team policy {name} scores {result.reward}, not 0: {paid}")
    return SelfTestReport(task_id=task.id, passed=not reasons, reasons=reasons, rewards=rewards, gold_run=gold_run)
