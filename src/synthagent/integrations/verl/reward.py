"""verl's custom reward function: the rubric reward of the episode, computed by our scorer.

Point verl at it with `custom_reward_function.path=<this file>` and `custom_reward_function.name=compute_score`.
verl calls `compute_score(data_source, solution_str, ground_truth, extra_info)` per rollout; our agent
loop puts the recorded episode into its `extra_fields`, which verl merges into `extra_info` (older
versions nest it under `tool_extra_fields`; both are read). The task comes from `extra_info.task`, which
`synthagent export --format verl` embeds. Without a recorded episode (a plain single-turn rollout) the
response text is scored as the agent's one and final message.

The result is exactly `synthagent score`'s: the same scorer on the same (task, trajectory), with the LLM
judge of `SYNTHAGENT_LLM_CONFIG` (or the `synthagent.llm_config` setting) for rubric items that have no
programmatic check — for every world kind, not only reasoning tasks. A recorded episode the loop already
scored is not judged again. `compute_score_async` is the same for verl's async reward managers.

An unscored episode (a simulator or the judge failed after retries) returns `score` 0 with `unscored` 1,
never an exception: verl's reward function has no way to drop a sample, and the count makes the 0 visible.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from typing import Any

from synthagent.reward.scorer import RewardConfig, score
from synthagent.sim.runtime import extract_answer
from synthagent.spec.models import Message, RubricResult, Task, Trajectory

TRAJECTORY_KEY = "synthagent_trajectory"


def score_trajectory(task: Task, trajectory: Trajectory, config: RewardConfig = RewardConfig(),
                     judge: Any = None) -> RubricResult:
    return score(task, trajectory, config, judge=judge)


def _recorded(extra_info: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    for source in (extra_info, extra_info.get("tool_extra_fields") or {}, kwargs):
        if isinstance(source, dict) and source.get(TRAJECTORY_KEY):
            return source[TRAJECTORY_KEY]
    return None


def _single_turn(task: Task, solution_str: str) -> Trajectory:
    answer = extract_answer(solution_str)
    messages = [Message(role="system", actor="system", content=""),
                Message(role="user", actor="user", content=task.instruction),
                Message(role="assistant", actor="agent", content=solution_str)]
    return Trajectory(task_id=task.id, domain=task.domain, difficulty=task.difficulty, policy="verl",
                      messages=messages, termination="answer" if answer is not None else "max_turns", answer=answer)


def _inputs(extra_info: dict[str, Any] | None, solution_str: str, kwargs: dict[str, Any]) -> tuple[Task, Trajectory]:
    from synthagent.integrations.verl.episode import task_from_extra_info

    extra_info = dict(extra_info or {})
    task = task_from_extra_info(extra_info)
    recorded = _recorded(extra_info, kwargs)
    if recorded is None:
        return task, _single_turn(task, solution_str or "")
    if isinstance(recorded, Trajectory):
        return task, recorded
    text = recorded if isinstance(recorded, str) else json.dumps(recorded)
    return task, Trajectory.model_validate_json(text)


def _judge() -> Any:
    from synthagent.integrations.verl.settings import LoopSettings, loop_resources

    return loop_resources(LoopSettings.resolve()).judge


async def _result(task: Task, trajectory: Trajectory) -> RubricResult | None:
    from synthagent.integrations.verl.episode import judged_score, needs_judge

    if trajectory.unscored:
        return None
    if trajectory.result is not None and trajectory.result.task_id == task.id:
        return trajectory.result
    judge = _judge() if needs_judge(task) else None
    return await judged_score(task, trajectory, RewardConfig(), judge)


def _scores(result: RubricResult | None) -> dict[str, float]:
    if result is None:
        return {"score": 0.0, "reward": 0.0, "success": 0.0, "gate": 0.0, "unscored": 1.0}
    return {"score": result.reward, "reward": result.reward, "success": float(result.success), "gate": result.gate,
            "unscored": 0.0}


async def compute_score_async(data_source: str | None = None, solution_str: str = "", ground_truth: Any = None,
                              extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, float]:
    task, trajectory = _inputs(extra_info, solution_str, kwargs)
    return _scores(await _result(task, trajectory))


def compute_score(data_source: str | None = None, solution_str: str = "", ground_truth: Any = None,
                  extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, float]:
    """Synchronous entry point; runs the judge on its own event loop (in a helper thread when the caller
    is already inside one, as verl's reward workers can be)."""
    task, trajectory = _inputs(extra_info, solution_str, kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _scores(asyncio.run(_result(task, trajectory)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return _scores(pool.submit(asyncio.run, _result(task, trajectory)).result())
