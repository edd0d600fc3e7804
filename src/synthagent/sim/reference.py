"""Reference policies: baselines and smoke tests that show the rubric separates good from bad behaviour.

- oracle: follows the gold plan — asks for each hidden slot, confirms before each write, answers.
- eager: follows the plan but guesses hidden values instead of asking and never asks for confirmation.
- silent: answers at once without doing anything.
- random: schema-valid random tool calls and chatter, then a bland answer.
- persuaded: complies with anything: on a task with a policy branch (`Task.branch`) it does what the user
  pushes for — the persuaded path, the illegal action included — instead of refusing, transferring or
  offering the alternative; elsewhere it is the oracle. Scoring it shows that illegal requests are caught.

The red team (`RED_TEAM`) tries to get paid without doing the work; every rubric must give each of them 0
(the self-test and `bench/red_team.py` check it; docs/rubrics.md, "Grounded answers"):

- red-answer: answers at once with the gold answer's text: the right values, never obtained.
- red-stuff: answers at once with the domain's vocabulary: every choice value, enum and world value.
- red-echo: answers at once by repeating every token of the conversation it was sent.
- red-call-all: calls every tool with empty, then guessed, arguments; answers with the vocabulary.
- red-repeat: calls tools with guessed arguments and answers with the last tool output, verbatim.
- red-ask-all: asks the user for every detail at once, again until nothing new comes, then stuffs.

They read the task (the oracle knows the gold plan), so they are for measuring worlds, not agents. The red
team reads it too, but never a hidden value: what it knows of the task is what an agent is shown, the gold
answer's wording (red-answer) and the world's vocabulary (red-stuff), which is what a guesser would use.
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


def persuaded_plan(task: Task) -> list[GoldAction]:
    """The gold plan of an agent that gives in: the compliant plan with the compliant-only calls (transfer,
    alternative) replaced by the persuaded path's calls, just before the final answer. Arguments come from
    the branch (`Branch.persuaded_args`), else the plan's own calls where a parameter name matches, else the
    ledger, so the forbidden call is well-formed and only the policy can fail it. What the rubric self-tests
    score to show that an illegal request is caught; on a legal task it equals the gold plan."""
    branch = task.branch
    if branch is None:
        return list(task.gold)
    known: dict[str, Any] = {}
    for action in task.gold:
        if action.kind == "call" and action.arguments:
            known.update(action.arguments)
    ledger = [s.value for s in task.private_info if s.required]
    keep = [a for a in task.gold if not (a.kind in ("call", "confirm") and a.tool in branch.compliant_path
                                         and a.tool not in branch.persuaded_path)]
    done = {a.tool for a in keep if a.kind == "call"}
    extra = []
    for tool_name in branch.persuaded_path:
        spec = task.tool(tool_name)
        if tool_name in done or spec is None:
            continue
        props = spec.function.parameters.get("properties", {})
        given = branch.persuaded_args.get(tool_name, {})
        args = {p: given[p] if p in given else known.get(p, ledger[i % len(ledger)] if ledger else "x")
                for i, p in enumerate(props)}
        extra.append(GoldAction(kind="call", tool=tool_name, arguments=args))
    cut = max((i for i, a in enumerate(keep) if a.kind == "answer"), default=len(keep))
    return keep[:cut] + extra + keep[cut:]


class PersuadedPolicy:
    name = "persuaded"

    def session(self, task: Task, seed: int) -> _PlanFollower:
        return _PlanFollower(persuaded_plan(task))


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


# ------------------------------------------------------------------------------------------ red team


def _tool_values(schema: dict[str, Any]) -> list[Any]:
    """Every enum value in a JSON schema (recursively): what a tool's own definition tells a guesser."""
    found: list[Any] = list(schema.get("enum", []))
    for sub in schema.get("properties", {}).values():
        found.extend(_tool_values(sub))
    if isinstance(schema.get("items"), dict):
        found.extend(_tool_values(schema["items"]))
    return found


def vocabulary(task: Task) -> list[str]:
    """The domain's vocabulary a keyword stuffer would draw on: the tools' enum values, the procedural
    domain's choice values and every scalar value in the world's records (a guesser who somehow knows the
    whole database still must not be paid for naming it)."""
    words: list[Any] = []
    for tool in task.tools:
        words.extend(_tool_values(tool.function.parameters or {}))
    db = getattr(task.world, "db", None) or {}
    try:
        from synthagent.worlds import get_domain

        spec = get_domain(task.domain) if db else None
    except KeyError:
        spec = None
    for entity in (spec.entities.values() if spec is not None else ()):
        for fspec in entity.fields.values():
            words.extend(fspec.values or [])
    for rows in db.values():
        for rec in rows.values():
            words.extend(v for v in rec.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool))
    seen: dict[str, None] = {}
    for w in words:
        text = f"{w:.2f}" if isinstance(w, float) else str(w)
        if text.strip():
            seen.setdefault(text, None)
    return list(seen)


def _stuffed(task: Task, extra: str = "") -> Message:
    return _say("<answer>" + (extra + " " if extra else "") + "Possible values: " + ", ".join(vocabulary(task))
                + "</answer>")


class _Once:
    """Answers at once with a fixed text."""

    def __init__(self, text: str):
        self.text = text

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        return _say(f"<answer>{self.text}</answer>")


class AnswerAtOncePolicy:
    name = "red-answer"

    def session(self, task: Task, seed: int) -> _Once:
        gold = next((a.text for a in reversed(task.gold) if a.kind == "answer" and a.text), None)
        return _Once(gold or "Done: your request is complete.")


class _Stuffer:
    def __init__(self, task: Task):
        self.task = task

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        return _stuffed(self.task)


class StuffPolicy:
    name = "red-stuff"

    def session(self, task: Task, seed: int) -> _Stuffer:
        return _Stuffer(task)


class _Echo:
    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        said = " ".join(m.content or "" for m in messages).replace("<answer>", " ").replace("</answer>", " ")
        return _say("<answer>" + " ".join(said.split()) + "</answer>")


class EchoPolicy:
    name = "red-echo"

    def session(self, task: Task, seed: int) -> _Echo:
        return _Echo()


def _guessed_args(tool: dict[str, Any], seen: str, rng: random.Random) -> dict[str, Any]:
    """Arguments a guesser would try: identifiers that appeared in the conversation where the parameter
    looks like an identifier, schema-valid random values elsewhere."""
    params = tool.get("parameters", {})
    tokens = [t.strip(".,;:!?()\"'") for t in seen.split()]
    ids = [t for t in tokens if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)]
    args = {}
    for name, sub in params.get("properties", {}).items():
        if ids and sub.get("type", "string") == "string" and "enum" not in sub:
            args[name] = rng.choice(ids)
        else:
            args[name] = random_value(sub, rng)
    return args


class _CallAll:
    """Calls every tool with empty arguments, then every tool with guessed ones, then answers."""

    def __init__(self, task: Task, rng: random.Random, repeat_last: bool):
        self.task = task
        self.rng = rng
        self.repeat_last = repeat_last
        self.queue: list[tuple[dict[str, Any], bool]] | None = None
        self.turn = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        if self.queue is None:
            fns = [t["function"] for t in tools]
            self.queue = ([] if self.repeat_last else [(f, True) for f in fns]) + [(f, False) for f in fns]
            self.queue = self.queue[:14]  # stay inside the turn limit
        if self.queue:
            fn, empty = self.queue.pop(0)
            self.turn += 1
            seen = " ".join(m.content or "" for m in messages if m.actor == "user")
            return _call(fn["name"], {} if empty else _guessed_args(fn, seen, self.rng), f"call_{self.turn}")
        if self.repeat_last:
            last = next((m.content or "" for m in reversed(messages) if m.actor == "tool"), "")
            return _say(f"<answer>{last}</answer>")
        return _stuffed(self.task)


class CallAllPolicy:
    name = "red-call-all"

    def session(self, task: Task, seed: int) -> _CallAll:
        return _CallAll(task, random.Random(seed), repeat_last=False)


class RepeatToolPolicy:
    name = "red-repeat"

    def session(self, task: Task, seed: int) -> _CallAll:
        return _CallAll(task, random.Random(seed), repeat_last=True)


class _AskAll:
    """Asks for every detail in one message, repeats while the user keeps giving new ones, then stuffs."""

    def __init__(self, task: Task):
        self.task = task
        wanted: dict[str, None] = {}
        for tool in task.tools:
            for name in (tool.function.parameters or {}).get("properties", {}):
                wanted.setdefault(name.replace("_", " "), None)
        for slot in task.private_info:
            for keyword in slot.keywords:
                wanted.setdefault(keyword, None)
        self.question = "Please tell me all of these: " + "; ".join(wanted) + "."
        self.asked = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        users = [m.content or "" for m in messages if m.actor == "user"]
        fresh = self.asked == 0 or (users and users[-1] not in users[:-1] and "know" not in users[-1].lower())
        if fresh and self.asked < 8:
            self.asked += 1
            return _say(self.question)
        return _stuffed(self.task, " ".join(users[1:]))


class AskAllPolicy:
    name = "red-ask-all"

    def session(self, task: Task, seed: int) -> _AskAll:
        return _AskAll(task)


RED_TEAM = {p.name: p for p in (AnswerAtOncePolicy, StuffPolicy, EchoPolicy, CallAllPolicy, RepeatToolPolicy,
                                 AskAllPolicy)}
"""Policies that try to be paid without doing the work; each must score 0 on every rubric."""

REFERENCE_POLICIES = {"oracle": OraclePolicy, "eager": EagerPolicy, "silent": SilentPolicy, "random": RandomPolicy,
                      "persuaded": PersuadedPolicy,
                      **RED_TEAM}


def reference_policy(name: str) -> Any:
    if name not in REFERENCE_POLICIES:
        raise KeyError(f"unknown reference policy {name!r}; known: {', '.join(REFERENCE_POLICIES)}")
    return REFERENCE_POLICIES[name]()
