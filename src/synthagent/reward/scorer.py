"""Score a trajectory against its task's rubric: programmatic checks, an optional judge, the reward.

Two reward formulas, chosen by name (`reward_config(name)`, `--reward-preset`, `reward:` in the LLM YAML):

- `paper` (the default): R(τ) = gate · (w_s · S + w_i · I) / (w_s + w_i), with gate 0 if any forbidden
  behaviour happened, S and I the fractions of sub-goals and required interactions met, w_s = w_i = ½.
  A section with no items drops out and the other carries the whole weight, so a task with no hidden
  slots is scored on its sub-goals alone.
- `authors`: the authors' code at the paper's time. Each section scores the fraction of its items met;
  a section with no items scores 0.3; the reward is 0 when the policy (forbidden) section scores under
  0.5 or the sub-goal section under 0.3, else 0.7 · S + 0.3 · I (the policy score is a gate only). A
  judge exception gave reward 0.0 in their trainer; here it makes the episode unscored (`Trajectory.fault`)
  and `training_reward` hands a trainer the preset's 0.0, so reports never count it as an agent's 0.
- `outcome`: 1 if every sub-goal is met, else 0, with no forbidden gate and no interaction term: the
  outcome-only reward of `synthagent train ablation` (a trainer's reward, not a success measure).

Both are `RewardConfig` values; any field may be overridden (`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Awaitable, Callable

from synthagent.reward.checks import CHECKS, facts
from synthagent.reward.grounding import ground_judged, task_values
from synthagent.reward.replay import replay
from synthagent.sim.interfaces import resolve
from synthagent.spec.models import Fault, ItemVerdict, RubricItem, RubricResult, Task, Trajectory

Judge = Callable[[Task, Trajectory, list[tuple[str, RubricItem]]], list[ItemVerdict]]
AsyncJudge = Callable[[Task, Trajectory, list[tuple[str, RubricItem]]], Awaitable[list[ItemVerdict]]]


@dataclass(frozen=True)
class RewardConfig:
    """How verdicts become a reward. The defaults are the paper's formula; see `REWARD_PRESETS`.

    forbidden_threshold: the reward is 0 when the fraction of forbidden items met is below this (1.0:
        any forbidden behaviour zeroes the reward, the paper's indicator; the authors used 0.5).
    subgoal_threshold: the reward is 0 when the sub-goal fraction is below this (0.0: no such gate).
    missing_section: the score of a section with no items; None drops the section out of the weighting
        (and out of the gates), a number scores it as that fraction (the authors: 0.3).
    judge_failure_reward: what a *trainer* receives for an episode whose judge failed after retries
        (`training_reward`); None: nothing, the sample is dropped. Results always record such an episode
        as unscored, so no report counts it as the agent's 0.
    """

    subgoal_weight: float = 0.5
    interaction_weight: float = 0.5
    success_threshold: float = 1.0
    forbidden_threshold: float = 1.0
    subgoal_threshold: float = 0.0
    missing_section: float | None = None
    judge_failure_reward: float | None = None

    def __post_init__(self) -> None:
        for name in ("subgoal_weight", "interaction_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"RewardConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("forbidden_threshold", "subgoal_threshold", "missing_section", "judge_failure_reward"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"RewardConfig.{name} must be in [0, 1], got {value}")


PAPER = RewardConfig()
AUTHORS = RewardConfig(subgoal_weight=0.7, interaction_weight=0.3, forbidden_threshold=0.5, subgoal_threshold=0.3,
                       missing_section=0.3, judge_failure_reward=0.0)
# outcome-only (the ablation's baseline against rubric rewards): 1 if every sub-goal is met (the final state is
# right and the asked values were told), else 0; forbidden behaviours and interactions do not count
OUTCOME = RewardConfig(subgoal_weight=1.0, interaction_weight=0.0, forbidden_threshold=0.0, subgoal_threshold=1.0)
REWARD_PRESETS: dict[str, RewardConfig] = {"paper": PAPER, "authors": AUTHORS, "outcome": OUTCOME}
DEFAULT_PRESET = "paper"


def reward_config(name: str | None = None, **overrides: Any) -> RewardConfig:
    """The named preset (default `paper`), with any field overridden; every trainer and command calls this.

    ValueError names the known presets or fields, so a typo in a flag or a YAML key fails loudly."""
    key = (name or DEFAULT_PRESET).strip().lower()
    if key not in REWARD_PRESETS:
        raise ValueError(f"unknown reward preset {name!r}; presets are {', '.join(REWARD_PRESETS)}")
    known = {f.name for f in fields(RewardConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown RewardConfig field(s) {unknown}; fields are {sorted(known)}")
    base = REWARD_PRESETS[key]
    return RewardConfig(**{**{f: getattr(base, f) for f in known}, **overrides}) if overrides else base


class ScoringError(ValueError):
    """The rubric cannot be scored as asked (e.g. items with no check and no judge)."""


class JudgeError(ScoringError):
    """The judge gave no usable verdicts for a trajectory (after retries and one repair), or could not be
    reached. Defined here, not in `judge.py`, so that `score_episode` can turn it into an unscored outcome."""


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
    return verdicts, _ground_for_judge(task, f, verdicts, for_judge)


def _ground_for_judge(task: Task, f, verdicts: list[ItemVerdict],  # noqa: ANN001 - checks.Facts
                      for_judge: list[tuple[str, RubricItem]]) -> list[tuple[str, RubricItem]]:
    """Grounding runs before the judge: an item that names a value the agent never obtained (or never acted
    on) fails here, with the reason, and the judge is not asked (docs/rubrics.md, "Grounded answers")."""
    if not for_judge:
        return for_judge
    known = task_values(task)
    rest = []
    for section, item in for_judge:
        why = ground_judged(f.trajectory, f.obtained, f.replay.calls, section, item.criterion, known)
        if why is None:
            rest.append((section, item))
            continue
        verdicts.append(ItemVerdict.model_construct(id=item.id, section=section, criterion=item.criterion, met=False,
                                                    evidence=f"grounding: {why}", message_index=None, method="check"))
    return rest


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


async def score_episode(task: Task, trajectory: Trajectory, config: RewardConfig = RewardConfig(),
                        judge: AsyncJudge | Judge | None = None) -> RubricResult | None:
    """Score in place: set `trajectory.result`, or, when the judge failed after its retries, leave the result
    None and set `trajectory.fault` (role "judge"): an unscored episode, never a crash and never a silent 0.

    Other scoring errors (a rubric with judge items but no judge, a trajectory of another task) still
    raise: they are mistakes in the call, not infrastructure failures."""
    try:
        trajectory.result = await score_async(task, trajectory, config, judge=judge)
    except JudgeError as err:
        trajectory.result = None
        trajectory.fault = Fault(role="judge", message=str(err))
    return trajectory.result


def training_reward(trajectory: Trajectory, config: RewardConfig = RewardConfig()) -> float | None:
    """The number a trainer uses: the result's reward; for a judge fault the preset's
    `judge_failure_reward` (the authors: 0.0); None when there is none (drop the sample)."""
    if trajectory.result is not None:
        return trajectory.result.reward
    if trajectory.fault is not None and trajectory.fault.role == "judge":
        return config.judge_failure_reward
    return None


def section_fractions(verdicts: list[ItemVerdict]) -> dict[str, float | None]:
    """Fraction of items met per section; None for a section with no items."""
    out: dict[str, float | None] = {}
    for section in ("forbidden", "subgoals", "interactions"):
        items = [v for v in verdicts if v.section == section]
        out[section] = sum(v.met for v in items) / len(items) if items else None
    return out


def aggregate(task_id: str, verdicts: list[ItemVerdict], config: RewardConfig = RewardConfig()) -> RubricResult:
    """Verdicts → reward, gates and success under `config` (see the module docstring for both presets)."""
    fractions = section_fractions(verdicts)

    def score_of(section: str) -> float | None:
        value = fractions[section]
        return config.missing_section if value is None else value

    policy, sub, inter = score_of("forbidden"), score_of("subgoals"), score_of("interactions")
    # below a threshold by more than rounding: 1.0 means "every item met", and 2/3 is not below 2/3
    gated = ((policy is not None and policy < config.forbidden_threshold - 1e-9)
             or (sub is not None and sub < config.subgoal_threshold - 1e-9))
    gate = 0.0 if gated else 1.0
    parts = [(config.subgoal_weight, sub), (config.interaction_weight, inter)]
    weight = sum(w for w, x in parts if x is not None)
    base = sum(w * x for w, x in parts if x is not None) / weight if weight else 1.0
    reward = round(gate * base, 6)
    return RubricResult(task_id=task_id, items=verdicts, gate=gate, subgoal_fraction=fractions["subgoals"],
                        interaction_fraction=fractions["interactions"], reward=reward,
                        success=reward >= config.success_threshold - 1e-9)
