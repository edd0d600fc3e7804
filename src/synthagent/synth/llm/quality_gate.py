"""Stage F: the quality gate. Per task: schema validity and the leak check (``worlds.leaks``). Across tasks: near-duplicates.

The per-task checks run as soon as a task is complete; the near-duplicate check runs when the task is
committed, in persona order (see ``committer.Committer``), so the accepted set does not depend on which
task happened to finish first.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from synthagent.spec.models import Task
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.models import TOOL_NAME
from synthagent.synth.llm.schemas import schema_problem
from synthagent.worlds.leaks import find_leak


def dedup_text(task: Task) -> str:
    """What near-duplicate detection compares: the instruction and the tools (names and descriptions)."""
    tools = sorted(task.tools, key=lambda t: t.name)
    return " ".join([task.instruction, *(f"{t.name.replace('_', ' ')} {t.function.description}" for t in tools)])


def gate(task: Task) -> Task:
    """Stage F per task: returns the validated task or raises StageRejected."""
    try:
        task = Task.model_validate(json.loads(task.model_dump_json()))
    except ValidationError as exc:
        raise StageRejected("F", "schema", f"task does not validate: {exc.errors()[0]['msg']}") from None
    names = [t.name for t in task.tools]
    if len(set(names)) != len(names):
        raise StageRejected("F", "schema", "tool names are not unique after the tool check")
    for tool in task.tools:
        if not TOOL_NAME.fullmatch(tool.name):
            raise StageRejected("F", "schema", f"tool name {tool.name!r} is not a valid function name")
        problem = schema_problem(tool.function.parameters, f"tool {tool.name}: parameters") or \
            schema_problem(tool.returns, f"tool {tool.name}: returns")
        if problem:
            raise StageRejected("F", "schema", problem)
    if not task.rubric.forbidden or not task.rubric.subgoals or not task.rubric.interactions:
        raise StageRejected("F", "schema", "rubric lacks a section (forbidden, subgoals or interactions)")
    if not task.gold or task.gold[-1].kind != "answer":
        raise StageRejected("F", "schema", "gold plan does not end with a final answer")
    if not any(s.required for s in task.private_info):
        raise StageRejected("F", "schema", "no required private information: the task has no information gap")
    leak = find_leak(task)  # the rule the procedural generator uses too
    if leak is not None:
        raise StageRejected("F", "leak", str(leak))
    return task
