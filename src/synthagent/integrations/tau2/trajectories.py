"""Our trajectories as τ² message lists, so τ²'s own evaluator can score what our runtime produced.

System messages are dropped (τ² keeps the policy outside the trajectory); agent messages become
`AssistantMessage`s (tool calls with their arguments parsed; a call whose arguments are not a JSON object
is kept with empty arguments, since τ² has no way to say "malformed"), tool messages `ToolMessage`s and
user messages `UserMessage`s (with their tool calls, requestor "user", and the results that
follow them marked so). Our `<answer>` wrapper stays in the text, which τ²'s checks tolerate.
"""

from __future__ import annotations

import json
from typing import Any

from synthagent.spec.models import Trajectory


def to_tau2_messages(trajectory: Trajectory) -> list[Any]:
    from tau2.data_model.message import AssistantMessage, ToolCall, ToolMessage, UserMessage

    out: list[Any] = []
    requestor = "assistant"
    for turn, msg in enumerate(trajectory.messages):
        calls = None
        if msg.tool_calls and msg.actor in ("agent", "user"):
            requestor = "assistant" if msg.actor == "agent" else "user"
            calls = []
            for call in msg.tool_calls:
                try:
                    args = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError:
                    args = {}
                calls.append(ToolCall(id=call.id, name=call.function.name,
                                      arguments=args if isinstance(args, dict) else {}, requestor=requestor))
        if msg.actor == "agent":
            out.append(AssistantMessage(role="assistant", content=msg.content, tool_calls=calls, turn_idx=turn))
        elif msg.actor == "tool":
            out.append(ToolMessage(id=msg.tool_call_id or "", role="tool", content=msg.content, error=msg.error,
                                   requestor=requestor, turn_idx=turn))
        elif msg.actor == "user":  # telecom's user calls tools on their own device (requestor "user")
            out.append(UserMessage(role="user", content=msg.content, tool_calls=calls, turn_idx=turn))
    return out


def tau2_reward(task_raw: dict[str, Any], domain: str, messages: list[Any]) -> tuple[float, dict[str, float]]:
    """τ²'s own reward for a message list: its env, action and communicate evaluators combined as in
    `tau2.evaluator.evaluator.evaluate_simulation(EvaluationType.ALL)` (NL assertions excluded).

    Needs τ²'s evaluator modules, which import pandas.
    """
    import importlib

    from tau2.data_model.tasks import Task as Tau2Task
    from tau2.evaluator.evaluator_action import ActionEvaluator
    from tau2.evaluator.evaluator_communicate import CommunicateEvaluator
    from tau2.evaluator.evaluator_env import EnvironmentEvaluator

    from synthagent.integrations.tau2.env import domain_info

    task = Tau2Task.model_validate(task_raw)
    constructor = importlib.import_module(domain_info(domain).module).get_environment
    env_info = EnvironmentEvaluator.calculate_reward(environment_constructor=constructor, task=task,
                                                     full_trajectory=messages)
    action_info = ActionEvaluator.calculate_reward(task=task, full_trajectory=messages)
    comm_info = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=messages)
    basis = {str(getattr(b, "value", b)) for b in task.evaluation_criteria.reward_basis} \
        if task.evaluation_criteria else set()
    reward, parts = 1.0, {}
    if basis & {"DB", "ENV_ASSERTION"}:
        reward *= env_info.reward
        parts["env"] = env_info.reward
    if "ACTION" in basis:
        reward *= action_info.reward
        parts["action"] = action_info.reward
    if "COMMUNICATE" in basis:
        reward *= comm_info.reward
        parts["communicate"] = comm_info.reward
    return reward, parts
