"""Reference policies: baselines and smoke tests that show the rubric separates good from bad behaviour.

- oracle: follows the gold plan — asks for each hidden slot, confirms before each write, answers.
- eager: follows the plan but guesses hidden values instead of asking and never asks for confirmation.
- silent: answers at once without doing anything.
- random: schema-valid random tool calls and chatter, then a bland answer.

They read the task (the oracle knows the gold plan), so they are for measuring worlds, not agents.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

from synthagent.spec.models import FunctionCall, GoldAction, Message, Task, ToolCall


# Reference policies build messages from typed values they control, so they skip pydantic re-validation:
# self-tests run three of these episodes on every generated task.
def _say(text: str) -> Message:
    return Message.model_construct(role="assistant", actor="agent", content=text)


def _call(name: str, args: dict[str, Any], call_id: str) -> Message:
    call = ToolCall.model_construct(id=call_id, type="function",
                                    function=FunctionCall.model_construct(name=name, arguments=json.dumps(args)))
    return Message.model_construct(role="assistant", actor="agent", content=None, tool_calls=[call])


class _PlanFollower:
    """Plays a list of gold actions one per turn (shared by oracle and eager)."""

    def __init__(self, plan: list[GoldAction]):
        self.plan = plan
        self.step = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        if self.step >= len(self.plan):
            return _say("<answer>Done.</answer>")
        action = self.plan[self.step]
        self.step += 1
        if action.kind == "call":
            return _call(action.tool or "", action.arguments or {}, f"call_{self.step}")
        if action.kind == "answer":
            return _say(f"<answer>{action.text or ''}</answer>")
        return _say(action.text or "")


class OraclePolicy:
    name = "oracle"

    def session(self, task: Task, seed: int) -> _PlanFollower:
        return _PlanFollower(list(task.gold))


def guess_like(value: Any, rng: random.Random) -> Any:
    """A plausible but wrong value of the same shape: what a model that does not ask would make up."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return type(value)(value + rng.randint(1, 9))
    text = str(value)
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(rng.choice([d for d in string.digits if d != ch]))
        elif ch.isalpha():
            pool = string.ascii_uppercase if ch.isupper() else string.ascii_lowercase
            out.append(rng.choice([c for c in pool if c != ch]))
        else:
            out.append(ch)
    return "".join(out)


class EagerPolicy:
    name = "eager"

    def session(self, task: Task, seed: int) -> _PlanFollower:
        rng = random.Random(seed)
        guesses = {str(slot.value): guess_like(slot.value, rng) for slot in task.private_info}
        plan = []
        for action in task.gold:
            if action.kind in ("ask", "confirm"):
                continue
            if action.kind == "call" and action.arguments:
                args = {k: guesses.get(str(v), v) for k, v in action.arguments.items()}
                action = action.model_copy(update={"arguments": args})
            plan.append(action)
        return _PlanFollower(plan)


class _Silent:
    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        return _say("<answer>Sorry, I cannot help with that.</answer>")


class SilentPolicy:
    name = "silent"

    def session(self, task: Task, seed: int) -> _Silent:
        return _Silent()


def random_value(schema: dict[str, Any], rng: random.Random) -> Any:
    kind = schema.get("type", "string")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 100)))
    if kind == "number":
        return round(rng.uniform(float(schema.get("minimum", 0)), float(schema.get("maximum", 1000))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [random_value(schema.get("items", {}), rng) for _ in range(rng.randint(0, 2))]
    if kind == "object":
        return {k: random_value(v, rng) for k, v in schema.get("properties", {}).items()}
    n = min(int(schema.get("maxLength", 12)), 12)
    return "".join(rng.choice(string.ascii_uppercase + string.digits + "-") for _ in range(rng.randint(3, n)))


class _Random:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.turns = rng.randint(3, 8)
        self.turn = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        self.turn += 1
        if self.turn > self.turns or not tools:
            return _say("<answer>I have handled your request.</answer>")
        if self.rng.random() < 0.25:
            return _say(self.rng.choice(["How can I help?", "Could you say more?", "Let me check that."]))
        tool = self.rng.choice(tools)["function"]
        return _call(tool["name"], random_value(tool.get("parameters", {}), self.rng), f"call_{self.turn}")


class RandomPolicy:
    name = "random"

    def session(self, task: Task, seed: int) -> _Random:
        return _Random(random.Random(seed))


REFERENCE_POLICIES = {"oracle": OraclePolicy, "eager": EagerPolicy, "silent": SilentPolicy, "random": RandomPolicy}


def reference_policy(name: str) -> Any:
    if name not in REFERENCE_POLICIES:
        raise KeyError(f"unknown reference policy {name!r}; known: {', '.join(REFERENCE_POLICIES)}")
    return REFERENCE_POLICIES[name]()
