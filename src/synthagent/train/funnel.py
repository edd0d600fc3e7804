"""How far an episode got along its task's reference plan: the steps a held-out evaluation reports.

Why: on a domain never seen in training, success stayed at or near 0 for many runs, and a success rate of 0
says nothing about which step fails. The reference plan (`Task.gold`) of every procedural task has the same
shape: check identity, read the records, make the changes or answer. So each episode is placed on that
path: did the policy call a tool at all, pass the identity check, read every record the plan reads, make
every change the plan makes (with the plan's tool, successfully), and succeed. A step counts only when the
tool result was not an error, so a call with a misspelt key or a wrong ID does not count as reaching it.
The first four steps are cumulative (a lookup task, which changes nothing, has made every change once it
has read every record); `succeeded` is the rubric's verdict, whatever the path.
"""

from __future__ import annotations

import json
from typing import Any

from synthagent.spec.models import GoldAction, Task, Trajectory
from synthagent.worlds.operations import OPERATIONS
from synthagent.worlds.registry import get_domain

STEPS = ("called_a_tool", "verified", "read_every_record", "made_every_change", "succeeded")


def _succeeded_calls(traj: Trajectory) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, arguments) of each call whose result was not an error, in order."""
    asked: dict[str, tuple[str, dict[str, Any]]] = {}
    done: list[tuple[str, dict[str, Any]]] = []
    for msg in traj.messages:
        for call in msg.tool_calls or []:
            try:
                args = json.loads(call.function.arguments or "{}")
            except (TypeError, ValueError):
                args = {}
            asked[call.id] = (call.function.name, args if isinstance(args, dict) else {})
        if msg.role == "tool" and not msg.error and msg.tool_call_id in asked:
            done.append(asked[msg.tool_call_id])  # a failed identity check is an error result too
    return done


def _plan(task: Task) -> tuple[str, list[GoldAction], list[GoldAction]]:
    """The domain's identity-check tool, and the plan's other calls split into reads and writes."""
    domain = get_domain(task.domain)
    ops = {t.name: t.op for t in [*domain.tools, *domain.tree_tools]}
    calls = [a for a in task.gold if a.kind == "call" and a.tool is not None and a.tool != domain.verify.tool]
    reads = [a for a in calls if a.tool in ops and not OPERATIONS[ops[a.tool]].writes]
    return domain.verify.tool, reads, [a for a in calls if a not in reads]


def episode_steps(task: Task, traj: Trajectory, success: bool) -> dict[str, bool]:
    """Which of STEPS this episode of a procedural task reached (see the module docstring)."""
    verify_tool, reads, writes = _plan(task)
    done = _succeeded_calls(traj)
    names = [name for name, _ in done]

    def reached(action: GoldAction) -> bool:
        # the plan's tool, on the plan's record where the plan names one (any key ending in _id)
        ids = {k: v for k, v in (action.arguments or {}).items() if k.endswith("_id")}
        return any(name == action.tool and all(args.get(k) == v for k, v in ids.items()) for name, args in done)

    called = any(msg.tool_calls for msg in traj.messages)
    verified = called and verify_tool in names
    read = verified and all(reached(a) for a in reads)
    return {"called_a_tool": called, "verified": verified, "read_every_record": read,
            "made_every_change": read and all(reached(a) for a in writes), "succeeded": success}


def task_kind(task: Task) -> str:
    """`lookup` for a procedural task whose plan changes nothing, else `change`."""
    return "change" if _plan(task)[2] else "lookup"


def summarize(rows: list[dict[str, bool]]) -> dict[str, float]:
    """The share of episodes that reached each step."""
    n = max(len(rows), 1)
    return {step: round(sum(r[step] for r in rows) / n, 4) for step in STEPS}
