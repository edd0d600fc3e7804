"""Recovery demonstrations: gold episodes with one realistic slip that the user corrects.

Gold trajectories never go wrong, so a model trained on them alone has never seen the user refuse a
proposal. Its dominant error on held-out tasks is a miscopied detail (one three-digit chunk of an id or a
street number taken from elsewhere in the conversation); the scripted user then refuses the proposal and
restates the right value, and the SFT model, out of its distribution, wrote the change anyway or gave up.

`with_slip` rewrites a gold episode so that its first change proposal first goes out with one such slip,
the scripted user (the same code that plays evaluation and GRPO) refuses and corrects it, and the gold
proposal follows. The slipped turn is excluded from the SFT loss (`SLIP_KEY` lists its assistant ordinal):
the model learns what to do after a correction, never to make the slip.

`with_call_slip` does the same for a tool's error: the episode's first tool call first goes out with a
training tool's key or ID prefix, the executable backend answers with its error, and the gold call follows.
"""

from __future__ import annotations

import json
import random
import re

from synthagent.sim.confirmation import AFFIRMATIVE, asks_confirmation
from synthagent.sim.users.scripted import REFUSE, ScriptedUser
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall

SLIP_KEY = "no_loss_assistant_turns"
DIGITS = re.compile(r"\d+")


def slipped(value: str, rng: random.Random) -> str | None:
    """`value` with one chunk of up to three digits replaced by other digits; None if it has no digits."""
    chunks = [(m.start() + k, min(m.start() + k + 3, m.end())) for m in DIGITS.finditer(value)
              for k in range(0, m.end() - m.start(), 3)]
    if not chunks:
        return None
    start, end = rng.choice(chunks)
    old = value[start:end]
    new = old
    while new == old:
        new = "".join(rng.choice("0123456789") for _ in old)
    return value[:start] + new + value[end:]


def with_slip(task: Task, messages: list[Message], rng: random.Random) -> tuple[list[Message], int] | None:
    """(messages with a slipped proposal and the user's correction inserted, index of the slipped message), or
    None when the episode has no proposal the user would correct (no write, or no digits in what it said)."""
    i = next((k for k, (msg, reply) in enumerate(zip(messages, messages[1:]))
              if msg.actor == "agent" and not msg.tool_calls and asks_confirmation(msg.content)
              and reply.actor == "user" and AFFIRMATIVE.match(reply.content or "")), None)
    if i is None:
        return None
    proposal = messages[i].content or ""
    action = next((a for a in task.gold if a.kind == "confirm" and a.text == proposal), None)
    if action is None:
        return None
    values = [str(v) for v in (action.arguments or {}).values() if isinstance(v, str) and v in proposal]
    rng.shuffle(values)
    session = ScriptedUser().session(task, rng.randrange(2**32))
    told = " ".join(m.content or "" for m in messages[1:i] if m.actor == "user")
    session.revealed = {s.name for s in task.private_info if str(s.value) in told}  # what the user has said so far
    for value in values:
        wrong = slipped(value, rng)
        if wrong is None:
            continue
        text = proposal.replace(value, wrong)
        correction = session.reply(text, []).text
        if correction.startswith(REFUSE) and correction != REFUSE:
            inserted = [Message(role="assistant", actor="agent", content=text),
                        Message(role="user", actor="user", content=correction)]
            return messages[:i] + inserted + messages[i:], i
    return None


def recovery_examples(task: Task, messages: list[Message], rate: float, rng: random.Random
                      ) -> tuple[list[Message], int | None]:
    """With probability `rate`, the episode with a slip (and the slipped message's index); else unchanged."""
    if rate <= 0 or rng.random() >= rate:
        return messages, None
    result = with_slip(task, messages, rng)
    return result if result is not None else (messages, None)


def with_call_slip(task: Task, messages: list[Message], rng: random.Random, keys: frozenset[str],
                   prefixes: frozenset[str]) -> tuple[list[Message], int] | None:
    """(messages with a failed first tool call and its error inserted before the gold one, index of the failed
    call), or None when the episode has no domain tool call or the slip would not fail.

    Why: on a domain it never saw, a trained model's first call carried what a training domain's tool of the
    same name takes (bank's `phone` key, bank's `NB-` prefix for food_delivery's `email` and `DB-`), and the
    tool's error, which names the key it wants or the record it cannot find, was followed by no second try
    (docs/training.md). A slip here is one of those: an argument key swapped for another training tool's key
    (`keys`), or an ID's prefix for another training prefix (`prefixes`). The observation is the executable
    backend's own error for that call, on the task's database, so it is worded as in evaluation; the failed
    call is left out of the loss (SLIP_KEY), the gold call after the error is in it."""
    from synthagent.sim.tools.executable import ExecutableSession
    from synthagent.train.renames import ID_PATTERN

    names = {t.name for t in task.tools}
    i = next((k for k, msg in enumerate(messages) if msg.actor == "agent" and msg.tool_calls
              and msg.tool_calls[0].function.name in names), None)
    if i is None:
        return None
    call = messages[i].tool_calls[0]  # type: ignore[index]
    try:
        args = json.loads(call.function.arguments or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(args, dict) or not args:
        return None
    ids = [k for k, v in args.items() if isinstance(v, str) and ID_PATTERN.fullmatch(v)]
    own = set(task.tool(call.function.name).function.parameters.get("properties", {}))
    if ids and rng.random() < 0.5:
        key = rng.choice(ids)
        prefix, digits = ID_PATTERN.fullmatch(args[key]).groups()  # type: ignore[union-attr]
        others = sorted(prefixes - {prefix})
        if not others:
            return None
        slipped = {**args, key: f"{rng.choice(others)}-{digits}"}
    else:
        plain = [k for k in args if k not in ids] or list(args)
        key = rng.choice(plain)
        others = sorted(keys - own)
        if not others:
            return None
        wrong = rng.choice(others)
        slipped = {(wrong if k == key else k): v for k, v in args.items()}
    try:
        session = ExecutableSession(task)
    except ValueError:  # not a procedural world: no database to answer the slip from
        return None
    result = session.call(call.function.name, slipped)
    if not result.error:
        return None
    text = json.dumps(slipped, ensure_ascii=False)
    inserted = [Message(role="assistant", actor="agent", content=None,
                        tool_calls=[ToolCall(id=f"{call.id}_slip", function=FunctionCall(name=call.function.name,
                                                                                          arguments=text))]),
                Message(role="tool", actor="tool", content=result.content, tool_call_id=f"{call.id}_slip",
                        name=call.function.name, error=True)]
    return messages[:i] + inserted + messages[i:], i


def call_slip_examples(task: Task, messages: list[Message], rate: float, rng: random.Random, keys: frozenset[str],
                       prefixes: frozenset[str]) -> tuple[list[Message], int | None]:
    """With probability `rate`, the episode with a failed first call (and its index); else unchanged."""
    if rate <= 0 or rng.random() >= rate:
        return messages, None
    result = with_call_slip(task, messages, rng, keys, prefixes)
    return result if result is not None else (messages, None)
