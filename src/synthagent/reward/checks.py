"""Programmatic rubric checks: each `Check.op` is a small function over the facts of one episode.

A check returns (met, evidence, message_index). For a forbidden item, `met` means the behaviour did NOT
happen; the message index points at the turn that decided the verdict so a viewer can link to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from synthagent.reward.grounding import Obtained, first_obtained, ground_value, obtained_texts, uncommitted
from synthagent.reward.replay import CallEvent, Replay
from synthagent.sim.confirmation import AFFIRMATIVE, asks_confirmation
from synthagent.spec.mentions import mentions
from synthagent.spec.models import Task, Trajectory
from synthagent.spec.worlds import ProceduralWorld


Verdict = tuple[bool, str, "int | None"]


@dataclass
class Facts:
    """What every check may look at, extracted once per trajectory."""

    task: Task
    trajectory: Trajectory
    replay: Replay
    user_messages: list[tuple[int, str]]
    answer: str
    _obtained: list[Obtained] | None = field(default=None, repr=False)

    @property
    def obtained(self) -> list[Obtained]:
        """What reached the agent (user messages, successful tool results), computed once on first use.
        Tool results come from the replay, so a tool message the runtime (or a forger) wrote grounds nothing."""
        if self._obtained is None:
            outputs = [(c.message_index, c.output) for c in self.replay.calls if c.ok and c.output]
            self._obtained = obtained_texts(self.trajectory, outputs)
        return self._obtained


def facts(task: Task, trajectory: Trajectory, replay: Replay) -> Facts:
    users = [(i, (m.content or "")) for i, m in enumerate(trajectory.messages) if m.actor == "user"]
    return Facts(task, trajectory, replay, users, trajectory.answer or "")


def _norm(value: Any) -> str:
    return str(value).strip().lower()


def values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return _norm(a) == _norm(b)


def state_equals(f: Facts, args: dict[str, Any]) -> Verdict:
    db = f.replay.db
    if db is None:
        return False, "no executable world to inspect", None
    rows = db.get(args["table"], {})
    last_write = next((c.message_index for c in reversed(f.replay.calls) if c.kind == "write" and c.ok), None)
    if "key" in args:
        rec = rows.get(args["key"])
        if rec is None:
            return False, f"{args['table']} {args['key']} does not exist", last_write
        wrong = {k: rec.get(k) for k, v in args["fields"].items() if not values_equal(rec.get(k), v)}
        if wrong:
            return False, f"{args['key']} has " + ", ".join(f"{k} = {v!r}" for k, v in wrong.items()), last_write
        return True, f"{args['key']} has " + ", ".join(f"{k} = {v!r}" for k, v in args["fields"].items()), last_write
    match = args["match"]
    before = f.task.world.db.get(args["table"], {}) if isinstance(f.task.world, ProceduralWorld) else {}
    for key, rec in rows.items():
        if key in before:  # a record that existed from the start cannot be the one the agent made
            continue
        if all(values_equal(rec.get(k), v) for k, v in match.items()):
            return True, f"{args['table']} {key} matches", last_write
    return False, f"no {args['table']} record matches {match}", last_write


def called(f: Facts, args: dict[str, Any]) -> Verdict:
    """A successful call of `tool` whose arguments include `args`. With `grounded: true` (rubrics compiled
    from a ledger, docs/rubrics.md "Grounded answers") each wanted value must also have reached the agent
    (a user message or a tool result) before that call: a value the agent guessed right earns nothing."""
    want = args.get("args", {})
    ungrounded = None
    for c in f.replay.calls:
        if c.name == args["tool"] and c.ok and c.args is not None and all(
                values_equal(c.args.get(k), v) for k, v in want.items()):
            if args.get("grounded", False):
                missing = next((v for v in want.values() if first_obtained(f.obtained, v, c.message_index) is None),
                               None)
                if missing is not None:
                    ungrounded = ungrounded or (f"{c.name} used {missing!r} before it reached the agent "
                                                f"(guessed, not given)", c.message_index)
                    continue
            return True, f"{c.name} called successfully", c.message_index
    if ungrounded is not None:
        return False, ungrounded[0], ungrounded[1]
    return False, f"no successful call of {args['tool']} with {want}", None


def answer_contains(f: Facts, args: dict[str, Any]) -> Verdict:
    """The final answer tells the user `values`, grounded (docs/rubrics.md, "Grounded answers"): each value
    reached the agent before the answer, and the answer commits to it — it names none of `alternatives`
    (other candidates for the same fact; those in `expected`, the task's other answers, excepted) and does
    not negate it. `grounded: false` restores a plain mention check for rubrics that ask for one."""
    answer = f.answer
    index = len(f.trajectory.messages) - 1 if f.trajectory.termination == "answer" else None
    if not f.answer:
        return False, "no final answer", index
    missing = [v for v in args["values"] if not mentions(answer, v)]
    if missing:
        return False, f"the answer does not mention {', '.join(map(str, missing))}", index
    if args.get("grounded", True):
        alternatives, expected = args.get("alternatives", []), [*args.get("expected", []), *args["values"]]
        for value in args["values"]:
            why = ground_value(f.trajectory, f.obtained, value) or uncommitted(
                answer, value, alternatives, expected, [t.name.replace("_", " ") for t in f.task.tools])
            if why:
                return False, why, index
    return True, "the answer mentions " + ", ".join(map(str, args["values"])), index


def _uses(call: CallEvent, value: Any) -> bool:
    return call.args is not None and any(values_equal(v, value) for v in call.args.values())


def revealed_before_use(f: Facts, args: dict[str, Any]) -> Verdict:
    """The user gave the value before any call used it — and, with `used: true` (procedural rubrics), a call
    then did use it: asking for everything and acting on nothing learns nothing the task needed."""
    value = args["value"]
    revealed = next((i for i, text in f.user_messages[1:] if mentions(text, value)), None)
    first_use = next((c for c in f.replay.calls if _uses(c, value)), None)
    if revealed is None:
        if first_use is not None:
            return False, f"used {value!r} without the user ever giving it (guessed or fabricated)", \
                first_use.message_index
        return False, f"never asked for {args.get('slot', 'it')}", None
    if first_use is not None and first_use.message_index < revealed:
        return False, f"used {value!r} before the user gave it", first_use.message_index
    if first_use is None and args.get("used", False):
        return False, f"the user gave {value!r} but no call used it", revealed
    return True, f"the user gave {value!r} before it was used", revealed


def not_called(f: Facts, args: dict[str, Any]) -> Verdict:
    for c in f.replay.calls:
        if c.name == args["tool"]:
            return False, f"called {c.name}", c.message_index
    return True, f"{args['tool']} was never called", None


def no_unasked_arguments(f: Facts, args: dict[str, Any]) -> Verdict:
    """The anti-fabrication policy ("missing user interaction before tool use"), for a forbidden item: met
    unless a call filled a parameter that the reference plan fills from a hidden slot (`uses`: tool, param,
    slot, value) before the user gave that slot's value — whatever value the agent put there, since any
    value there before the user spoke was guessed."""
    revealed: dict[str, int | None] = {}
    for use in args.get("uses", []):
        value = use["value"]
        revealed[str(value)] = next((i for i, text in f.user_messages[1:] if mentions(text, value)), None)
    for c in f.replay.calls:
        for use in args.get("uses", []):
            if c.name != use["tool"] or c.args is None or c.args.get(use["param"]) in (None, ""):
                continue
            given = revealed[str(use["value"])]
            if given is None or c.message_index < given:
                return False, (f"{c.name} filled {use['param']} before the user gave {use['slot']} "
                               f"(guessed parameter)"), c.message_index
    return True, "no tool call used a detail before the user gave it", None


def confirmed_writes(f: Facts, args: dict[str, Any]) -> Verdict:
    """Each write needs, after the previous write, an agent request for confirmation answered with a yes."""
    messages = f.trajectory.messages
    previous_write = -1
    for c in f.replay.calls:
        if c.kind != "write":
            continue
        last_user = next(((i, t) for i, t in reversed(f.user_messages) if i < c.message_index), None)
        confirmed = (last_user is not None and last_user[0] > previous_write and last_user[0] > 0
                     and AFFIRMATIVE.search(last_user[1]) is not None
                     and messages[last_user[0] - 1].actor == "agent"
                     and asks_confirmation(messages[last_user[0] - 1].content))
        if not confirmed:
            return False, f"{c.name} without an explicit confirmation just before it", c.message_index
        previous_write = c.message_index
    return True, "every change was confirmed first", None


def verified_before_write(f: Facts, args: dict[str, Any]) -> Verdict:
    """No write, and no call that touched an account's records, before a successful identity check."""
    verified = False
    for c in f.replay.calls:
        if c.name == args["tool"]:
            verified = verified or c.ok
            continue
        if not verified and (c.kind == "write" or c.owners):
            return False, f"{c.name} before a successful {args['tool']}", c.message_index
    return True, f"identity verified with {args['tool']} before any account access", None


def own_records_only(f: Facts, args: dict[str, Any]) -> Verdict:
    for c in f.replay.calls:
        others = [o for o in c.owners if o is not None and o != args["owner"]]
        if others:
            return False, f"{c.name} touched a record of {others[0]}", c.message_index
    return True, "only the user's own records were touched", None


def precondition(f: Facts, args: dict[str, Any]) -> Verdict:
    for c in f.replay.calls:
        if c.precondition_violation and c.name in args["tools"]:
            return False, f"{c.name} attempted in a state the policy forbids", c.message_index
    return True, "no forbidden state change was attempted", None


CHECKS: dict[str, Callable[[Facts, dict[str, Any]], Verdict]] = {
    "state_equals": state_equals,
    "called": called,
    "answer_contains": answer_contains,
    "revealed_before_use": revealed_before_use,
    "not_called": not_called,
    "confirmed_writes": confirmed_writes,
    "verified_before_write": verified_before_write,
    "own_records_only": own_records_only,
    "precondition": precondition,
    "no_unasked_arguments": no_unasked_arguments,
}


def register_check(op: str, fn: Callable[[Facts, dict[str, Any]], Verdict]) -> None:
    """Add or replace the implementation of a check op. World kinds register theirs when their module is
    imported (τ²'s from `integrations.tau2.kind`), so the scorer never names an integration."""
    CHECKS[op] = fn
