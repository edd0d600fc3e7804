"""Grounding: an answer earns credit for a value only if the agent obtained it and commits to it.

GRPO pays for whatever the reward pays for. An answer check that accepts any mention of a value pays for
guessing (a list of every status word contains the right one) and for echoing (the conversation may
contain it). The rule, stated in docs/rubrics.md ("Grounded answers"):

1. *obtained*: the value reached the agent in this episode before the answer — in a successful tool
   result or a user message. For executable worlds the tool results are the scorer's own replay, never what
   the runtime wrote, so a forged tool message grounds nothing.
2. *committed*: the answer states the value and no alternative to it (another candidate value of the same
   fact that the task does not expect), and does not negate it ("not waiting").

Grounding only ever takes credit away: it is a necessary condition checked before a value-matching check
or a judge, never a reason to pass an item.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from synthagent.spec.mentions import mentions
from synthagent.spec.models import Trajectory

NEGATIONS = ("not", "isn't", "is not", "no", "never", "neither", "nor", "aren't", "wasn't", "won't")
_NEGATION_BEFORE = re.compile(r"(?:\b(?:" + "|".join(re.escape(n) for n in NEGATIONS) + r"))\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Obtained:
    """A piece of text that reached the agent: a successful tool result or a user message."""

    message_index: int
    source: str  # "tool" | "user" | "request" (the opening request, which grounds no answer)
    text: str


def obtained_texts(trajectory: Trajectory, tool_outputs: Iterable[tuple[int, str]] | None = None) -> list[Obtained]:
    """Everything the agent was told, in order. `tool_outputs` (message index of the call, text) replaces the
    trajectory's tool messages when the scorer replayed the calls itself; tool errors ground nothing."""
    found: list[Obtained] = []
    opening = True
    for index, msg in enumerate(trajectory.messages):
        if msg.actor == "user" and msg.content:
            found.append(Obtained(index, "request" if opening else "user", msg.content))
            opening = False
        elif tool_outputs is None and msg.actor == "tool" and msg.content and not msg.error:
            found.append(Obtained(index, "tool", msg.content))
    if tool_outputs is not None:
        found.extend(Obtained(index, "tool", text) for index, text in tool_outputs if text)
        found.sort(key=lambda o: o.message_index)
    return found


def answer_index(trajectory: Trajectory) -> int:
    """Index of the message that gave the final answer (the last one), or one past the end if none."""
    if trajectory.termination == "answer" and trajectory.messages:
        return len(trajectory.messages) - 1
    return len(trajectory.messages)


def first_obtained(obtained: list[Obtained], value: Any, before: int) -> Obtained | None:
    """The first time `value` reached the agent before message `before` (None: it never did). The opening
    request grounds nothing: it is the question ("was my refund approved?"), not the answer."""
    for item in obtained:
        if item.message_index >= before:
            break
        if item.source == "request":
            continue
        if mentions(item.text, value) or mentions(_flat(item.text), value):
            return item
    return None


def _flat(text: str) -> str:
    """JSON tool results escape some characters; compare against the decoded text as well."""
    if not text.startswith(("{", "[")):
        return text
    try:
        return " ".join(str(v) for v in _scalars(json.loads(text)))
    except (json.JSONDecodeError, TypeError):
        return text


def _scalars(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    else:
        yield value


def negated(answer: str, value: Any) -> bool:
    """The value is stated only in negated form ("it is not waiting"): every mention has a negation before it."""
    lowered = answer.lower()
    needle = str(value).strip().lower()
    if not needle:
        return False
    positions = [m.start() for m in re.finditer(re.escape(needle), lowered)]
    return bool(positions) and all(_NEGATION_BEFORE.search(lowered[max(0, p - 20):p]) for p in positions)


def mask(text: str, phrases: Iterable[Any]) -> str:
    """`text` with every whole-token mention of the phrases blanked out, longest first, so an alternative
    inside an expected value ("economy" in "premium economy") or a tool's name ("open ticket") is not
    read as a second candidate."""
    out = text
    for phrase in sorted({str(p).strip() for p in phrases if str(p).strip()}, key=len, reverse=True):
        out = _whole_token(phrase).sub(" ", out)
    return out


@lru_cache(maxsize=8192)
def _whole_token(phrase: str) -> re.Pattern[str]:
    """Cached: a task's values recur across its episodes, and `re`'s own cache (512) overflows in a batch."""
    return re.compile(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", re.IGNORECASE)


def uncommitted(answer: str, value: Any, alternatives: Iterable[Any], expected: Iterable[Any] = (),
                ignore: Iterable[Any] = ()) -> str | None:
    """Why the answer does not commit to `value` (None: it does). `alternatives` are the other candidate
    values of the same fact; those the task also expects (`expected`) are not counted against it, nor are
    mentions inside an expected value or an `ignore` phrase (a tool's name)."""
    keep = {str(e).strip().lower() for e in expected} | {str(value).strip().lower()}
    rest = mask(answer, [*keep, *ignore])
    rivals = [a for a in alternatives if str(a).strip().lower() not in keep and mentions(rest, a)]
    if rivals:
        shown = ", ".join(map(str, rivals[:3])) + (" …" if len(rivals) > 3 else "")
        return f"the answer also offers {shown} besides {value} (a list of candidates does not commit)"
    if negated(answer, value):
        return f"the answer states {value} only as negated"
    return None


def ground_value(trajectory: Trajectory, obtained: list[Obtained], value: Any) -> str | None:
    """Why `value` is not grounded for the final answer (None: it reached the agent before the answer)."""
    if first_obtained(obtained, value, answer_index(trajectory)) is None:
        return f"{value} never reached the agent (no tool result or user message gave it before the answer)"
    return None


# ------------------------------------------------------------------------------ judged items

TELLS = re.compile(r"\b(tells?|told|informs?|communicat\w*|lets? the user know|"
                   r"(?:reports?|states?|gives?|shares?|provides?|explains?)\b[^.]{0,40}\bto the user)\b", re.IGNORECASE)
# Values a free-text criterion can name unambiguously: record ids (OR-959077, LIB123), ISO dates, money
# ($1,000, 45.20). Bare numbers ("last 10 games", "2003–2023") are not values of the world.
_IDENTIFIER = re.compile(r"\b[A-Z]{1,6}-?\d{2,}\b|\b\d{4}-\d{2}-\d{2}\b|\$\d+(?:\.\d+)?|\b\d+\.\d{2}\b")
_QUOTED = re.compile(r"\"([^\"]{1,40})\"|“([^”]{1,40})”|\(([^()]{1,40})\)")


@dataclass(frozen=True)
class TaskValues:
    """What grounding knows about a task's values: the hidden slots, the world's own values (a
    parenthesised word in a criterion is a value only if the world has it) and the values the reference
    solution passes to tools (a hidden value the task needs for a call must reach a call)."""

    slots: tuple[Any, ...] = ()
    world: frozenset[str] = frozenset()
    gold_call: frozenset[str] = frozenset()


def named_values(criterion: str, known: TaskValues, telling: bool) -> list[str]:
    """The concrete values a criterion names: hidden-slot values, identifier-like tokens (with a digit: ids,
    dates, amounts) and, for an item that requires telling, quoted or parenthesised world values."""
    found: dict[str, None] = {}
    for value in known.slots:
        if str(value).strip() and mentions(criterion, value):
            found.setdefault(str(value), None)
    for token in _IDENTIFIER.findall(re.sub(r"(?<=\d),(?=\d{3})", "", criterion)):  # $1,000 is one value
        found.setdefault(token.rstrip(".:/-").lstrip("$"), None)
    if telling:
        for groups in _QUOTED.findall(criterion):
            text = next(g for g in groups if g).strip()
            if text.lower() in known.world:
                found.setdefault(text, None)
    return [v for v in found if v]


def _said_by_agent(trajectory: Trajectory, value: Any, before: int) -> bool:
    return any(m.actor == "agent" and m.content and mentions(m.content, value)
               for m in trajectory.messages[:before + 1])


def _used(calls: list[Any], value: Any, after: int = -1) -> bool:
    for c in calls:
        if c.message_index > after and c.args is not None and any(
                mentions(v if isinstance(v, str) else json.dumps(v), value) for v in c.args.values()):
            return True
    return False


def ground_judged(trajectory: Trajectory, obtained: list[Obtained], calls: list[Any], section: str,
                  criterion: str, known: TaskValues) -> str | None:
    """Why a judged item cannot be met whatever the judge says (None: leave it to the judge).

    - an item that requires telling the user a value: each value it names must have reached the agent
      before the answer, and the agent must have said it;
    - an interaction item naming a hidden value: the user must have given it, and if the task's reference
      solution passes it to a tool, a later call must have used it (asking for everything and acting on
      nothing learns nothing the task needed);
    - any other sub-goal: each identifier it names must appear in a call's arguments or a tool result (an
      agent cannot have acted on a record it never touched)."""
    end = answer_index(trajectory)
    if section == "interactions":
        for value in (v for v in known.slots if str(v).strip() and mentions(criterion, v)):
            given = next((o for o in obtained if o.source == "user" and mentions(o.text, value)), None)
            if given is None:
                return f"the user never gave {value}"
            if str(value).lower() in known.gold_call and not _used(calls, value, given.message_index):
                return f"the user gave {value} but no later call used it"
        return None
    if section != "subgoals":
        return None
    telling = TELLS.search(criterion) is not None
    values = named_values(criterion, known, telling)
    if telling:
        for value in values:
            why = ground_value(trajectory, obtained, value)
            if why:
                return why
            if not _said_by_agent(trajectory, value, end):
                return f"the agent never told the user {value}"
        return None
    tool_results = [o for o in obtained if o.source == "tool"]
    for value in values:
        if not _used(calls, value) and first_obtained(tool_results, value, end) is None:
            return f"{value} never appears in a call or a tool result"
    return None


def task_values(task: Any) -> TaskValues:
    """The values of a task that grounding of judged items needs (see `TaskValues`)."""
    world: set[str] = set()
    for rows in (getattr(task.world, "db", None) or {}).values():
        for rec in rows.values():
            world.update(str(v).lower() for v in rec.values() if isinstance(v, (str, int, float)))
    gold_call = {str(v).lower() for a in task.gold if a.kind == "call" for v in (a.arguments or {}).values()}
    return TaskValues(slots=tuple(s.value for s in task.private_info), world=frozenset(world),
                      gold_call=frozenset(gold_call))


# ------------------------------------------------------------------------------ training guard

def answer_candidates(task: Any) -> tuple[list[str], int]:
    """The candidate values a task's answer items know (each item's values and alternatives) and how many
    the task expects. A task without answer items has no candidates: its answers are never counted stuffed."""
    pool: dict[str, None] = {}
    expected = 0
    for _, items in task.rubric.sections():
        for item in items:
            if item.check is not None and item.check.op == "answer_contains":
                expected += len(item.check.args.get("values", []))
                for v in [*item.check.args.get("values", []), *item.check.args.get("alternatives", [])]:
                    pool.setdefault(str(v), None)
    return list(pool), expected


def stuffed(task: Any, answer: str | None) -> bool:
    """Does the answer name more candidate values than the task has answers? The drift a reward that pays
    for mentions would cause; `train tiny` logs its share so a drift toward stuffing is visible."""
    pool, expected = answer_candidates(task)
    if not answer or not pool:
        return False
    return sum(mentions(answer, v) for v in mask_nested(pool, answer)) > expected


def mask_nested(pool: list[str], answer: str) -> list[str]:
    """Candidates minus those only present inside a longer named candidate ("economy" in "premium economy")."""
    named = [v for v in pool if mentions(answer, v)]
    return [v for v in named if mentions(mask(answer, [w for w in named if len(w) > len(v)]), v)]


def answer_guard(episodes: Iterable[tuple[Any, str | None]]) -> dict[str, float]:
    """Mean answer length (characters) and share of answered episodes whose answer is `stuffed`."""
    lengths, flags = [], []
    for task, answer in episodes:
        if answer is None:
            continue
        lengths.append(len(answer))
        flags.append(stuffed(task, answer))
    n = len(lengths)
    return {"answers": n, "answer_chars": round(sum(lengths) / n, 1) if n else 0.0,
            "stuffed_share": round(sum(flags) / n, 4) if n else 0.0}


def obtained_marks(task: Any, trajectory: Trajectory, items: Iterable[tuple[str, Any]]) -> str:
    """For the judge's input: each value the items name, and the first message (tool result or user message)
    that gave it to the agent, or that none did. Computed from the transcript the judge also sees."""
    obtained = obtained_texts(trajectory)
    known = task_values(task)
    end = answer_index(trajectory)
    lines: dict[str, str] = {}
    for section, item in items:
        for value in named_values(item.criterion, known, telling=True):
            if value in lines:
                continue
            first = first_obtained(obtained, value, end)
            lines[value] = (f"- {value}: first given to the agent in message [{first.message_index}] ({first.source})"
                            if first else f"- {value}: never given to the agent before its answer")
    return "\n".join(lines.values()) or "(the items name no concrete value)"
