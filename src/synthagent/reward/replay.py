"""Replay a trajectory's tool calls against a fresh copy of the task's world.

The scorer never trusts what the runtime wrote into tool messages: it re-executes every call in order on
the task's database, which yields the final state, the owners each call touched and any policy-forbidden
attempts. Scoring is therefore a pure function of (task, messages), reproducible anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from synthagent.sim.kinds import world_kind
from synthagent.spec.models import Task, Trajectory


@dataclass
class CallEvent:
    message_index: int
    name: str
    args: dict[str, Any] | None
    ok: bool
    kind: str
    owners: tuple[str, ...]
    precondition_violation: bool
    output: str = ""  # what the call returned (the replay's own result; the trajectory's where no replay exists)


@dataclass
class Replay:
    calls: list[CallEvent]
    db: dict[str, dict[str, dict[str, Any]]] | None


def replay(task: Task, trajectory: Trajectory) -> Replay:
    kind = world_kind(task)
    session = kind.replay(task) if kind.replay is not None else None
    kinds = {t.name: t.kind for t in task.tools}
    results = {m.tool_call_id: m for m in trajectory.messages if m.actor == "tool" and m.tool_call_id}
    calls: list[CallEvent] = []
    for index, msg in enumerate(trajectory.messages):
        if msg.actor != "agent" or not msg.tool_calls:
            continue
        for call in msg.tool_calls:
            name = call.function.name
            if session is not None:
                res = session.call(name, call.function.arguments)
                calls.append(CallEvent(index, name, res.args, not res.error, res.kind, res.owners,
                                       res.precondition_violation, "" if res.error else res.content))
            else:
                result = results.get(call.id)
                output = result.content or "" if result is not None and not result.error else ""
                calls.append(CallEvent(index, name, _loads(call.function.arguments), True, kinds.get(name, "read"),
                                       (), False, output))
    return Replay(calls=calls, db=getattr(session, "db", None))


def _loads(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return value if isinstance(value, dict) else None
