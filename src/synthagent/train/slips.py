"""Recovery demonstrations: gold episodes with one realistic slip that the user corrects.

Gold trajectories never go wrong, so a model trained on them alone has never seen the user refuse a
proposal. Its dominant error on held-out tasks is a miscopied detail (one three-digit chunk of an id or a
street number taken from elsewhere in the conversation); the scripted user then refuses the proposal and
restates the right value, and the SFT model, out of its distribution, wrote the change anyway or gave up.

`with_slip` rewrites a gold episode so that its first change proposal first goes out with one such slip,
the scripted user (the same code that plays evaluation and GRPO) refuses and corrects it, and the gold
proposal follows. The slipped turn is excluded from the SFT loss (`SLIP_KEY` lists its assistant ordinal):
the model learns what to do after a correction, never to make the slip.
"""

from __future__ import annotations

import random
import re

from synthagent.sim.confirmation import AFFIRMATIVE, asks_confirmation
from synthagent.sim.users.scripted import REFUSE, ScriptedUser
from synthagent.spec.models import Message, Task

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
