"""Obtainability: every argument of every gold call must come from somewhere the agent could get it.

A task whose gold plan calls a tool with a value the agent cannot know — a record id nobody says, a date
only the teacher invented — teaches guessing, and its rubric rewards a lucky guess. The authors' follow-up
(AgenticQwen) asks the teacher to self-check this; here it is checked by code, on the gold run itself
(the messages in the order the agent saw them), so it holds whatever the teacher claims.

Each scalar inside a call's arguments is traced, in this order, to:
- ``instruction``: the agent-visible request states it;
- ``user``: a user turn before the call states it (a ledger slot the agent asked for, or any reply);
- ``tool_output``: an earlier tool result states it;
- ``schema``: the parameter's schema fixes the choice (an ``enum`` member, a boolean, the ``default``);
- ``composed``: free text the agent writes itself (a string of ``COMPOSED_WORDS`` or more words: a message
  body, a note, a summary), which nobody is expected to dictate.
A value that matches none is *untraceable* and the task is rejected with the argument, the call and the
value. "States" is :func:`synthagent.spec.mentions.mentions`, the one definition every layer uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from synthagent.spec.mentions import mentions
from synthagent.spec.models import Message, Task

COMPOSED_WORDS = 4
"""A string argument with at least this many words is text the agent composes, not a fact it must obtain."""


@dataclass(frozen=True)
class Trace:
    """Where one argument value of one gold call comes from (``source`` None: from nowhere)."""

    call_index: int
    tool: str
    path: str
    value: Any
    source: str | None

    def reason(self) -> str:
        return (f"argument {self.path}={json.dumps(self.value, ensure_ascii=False)} of gold call "
                f"#{self.call_index + 1} ({self.tool}) comes from nowhere: not in the instruction, "
                "not said by the user before the call, not in an earlier tool output, not fixed by the schema")


def _scalars(value: Any, path: str, schema: dict[str, Any] | None) -> list[tuple[str, Any, dict[str, Any]]]:
    """(dotted path, scalar, the scalar's own schema) for every leaf of an argument value."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        out: list[tuple[str, Any, dict[str, Any]]] = []
        for key, item in value.items():
            out += _scalars(item, f"{path}.{key}" if path else str(key), props.get(key))
        return out
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [leaf for i, item in enumerate(value) for leaf in _scalars(item, f"{path}[{i}]", items)]
    return [(path, value, schema)]


def _source(value: Any, schema: dict[str, Any], instruction: str, said: list[str], outputs: list[str]) -> str | None:
    if value is None or value == "":
        return "schema"  # an optional argument left empty states nothing
    if isinstance(value, bool) or value in (schema.get("enum") or []) or ("default" in schema
                                                                          and value == schema["default"]):
        return "schema"
    if mentions(instruction, value):
        return "instruction"
    if any(mentions(text, value) for text in said):
        return "user"
    if any(mentions(text, value) for text in outputs):
        return "tool_output"
    if isinstance(value, str) and len(value.split()) >= COMPOSED_WORDS:
        return "composed"
    return None


def trace_calls(task: Task, messages: list[Message]) -> list[Trace]:
    """Trace every argument of every tool call in ``messages`` (a gold run) to its source."""
    schemas = {t.name: t.function.parameters for t in task.tools}
    said: list[str] = []
    outputs: list[str] = []
    traces: list[Trace] = []
    calls = 0
    opening_seen = False
    for msg in messages:
        if msg.actor == "user" and msg.role == "user":
            if not opening_seen:  # the opening turn is the instruction itself
                opening_seen = True
            said.append(msg.content or "")
        elif msg.actor == "tool" and not msg.error:
            outputs.append(msg.content or "")
        elif msg.actor == "agent":
            for call in msg.tool_calls or []:
                try:
                    args = json.loads(call.function.arguments or "{}")
                except ValueError:
                    args = {}
                for path, value, schema in _scalars(args if isinstance(args, dict) else {}, "",
                                                    schemas.get(call.function.name)):
                    traces.append(Trace(calls, call.function.name, path, value,
                                        _source(value, schema, task.instruction, said, outputs)))
                calls += 1
    return traces


def untraceable(task: Task, messages: list[Message]) -> list[Trace]:
    """The arguments of the gold run that come from nowhere (empty: the task's gold plan is obtainable)."""
    return [t for t in trace_calls(task, messages) if t.source is None]


def source_counts(traces: list[Trace]) -> dict[str, int]:
    """How many arguments came from each source: what an accepted task records in its metadata."""
    counts: dict[str, int] = {}
    for t in traces:
        counts[t.source or "nowhere"] = counts.get(t.source or "nowhere", 0) + 1
    return counts
