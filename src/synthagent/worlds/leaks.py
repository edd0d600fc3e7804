"""The leak check: does anything the agent sees state a private value? One rule for every task source.

The procedural generator retries a task that leaks, and the LLM synthesis gate (stage F) discards one; both
call :func:`find_leak`, which looks at what the agent is shown (instruction, policy, tool descriptions,
parameter descriptions, enums, defaults and examples) with :func:`~synthagent.spec.mentions.mentions`, the
rule the simulated user and the rubric use to decide whether a text states a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthagent.spec.mentions import mentions
from synthagent.spec.models import Task


@dataclass(frozen=True)
class Leak:
    slot: str
    value: Any
    where: str

    def __str__(self) -> str:
        return f"private value of {self.slot!r} ({self.value!r}) appears in the {self.where}"


def visible_texts(task: Task) -> list[tuple[str, str]]:
    """Everything the agent sees, labelled: instruction, policy, tool descriptions, parameter texts and enums."""
    texts = [("instruction", task.instruction)] + [(f"policy[{i}]", p) for i, p in enumerate(task.policy)]
    for tool in task.tools:
        texts.append((f"tool {tool.name} description", tool.function.description))
        for pname, prop in (tool.function.parameters.get("properties") or {}).items():
            if isinstance(prop, dict):
                texts.append((f"tool {tool.name} parameter {pname}",
                              " ".join(str(prop.get(k, "")) for k in ("description", "enum", "default", "examples"))))
    return texts


def find_leak(task: Task) -> Leak | None:
    """The first private value that anything the agent sees states, or None."""
    visible = visible_texts(task)
    everything = "\n".join(text for _, text in visible)  # one pass rules out most values: texts never join tokens
    for slot in task.private_info:
        if isinstance(slot.value, bool) or len(str(slot.value).strip()) < 2:
            continue  # yes/no and one-character values cannot be told apart from ordinary text
        if not mentions(everything, slot.value):
            continue
        for where, text in visible:
            if mentions(text, slot.value):
                return Leak(slot.name, slot.value, where)
    return None
