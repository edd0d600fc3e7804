"""verl's custom reward function: the rubric reward of the episode, computed by our scorer.

Point verl at it with `custom_reward_function.path=<this file>` and `custom_reward_function.name=compute_score`.
verl calls `compute_score(data_source, solution_str, ground_truth, extra_info)` per rollout; our agent
loop puts the recorded episode into its `extra_fields`, which verl merges into `extra_info` (older
versions nest it under `tool_extra_fields`; both are read). The task comes from `extra_info.task`, which
`synthagent export --format verl` embeds. Without a recorded episode (a plain single-turn rollout) the
response text is scored as the agent's one and final message.

The result is exactly `synthagent score`'s: the same scorer on the same (task, trajectory).
"""

from __future__ import annotations

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


def compute_score(data_source: str | None = None, solution_str: str = "", ground_truth: Any = None,
                  extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, float]:
    from synthagent.integrations.verl.episode import task_from_extra_info

    extra_info = dict(extra_info or {})
    task = task_from_extra_info(extra_info)
    recorded = _recorded(extra_info, kwargs)
    if recorded is None:
        trajectory = _single_turn(task, solution_str or "")
    elif isinstance(recorded, Trajectory):
        trajectory = recorded
    else:
        trajectory = Trajectory.model_validate_json(recorded if isinstance(recorded, str) else json.dumps(recorded))
    result = score_trajectory(task, trajectory)
    return {"score": result.reward, "reward": result.reward, "success": float(result.success), "gate": result.gate}
