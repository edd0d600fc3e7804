"""Play a served episode with an in-process policy: the bridge that lets any `Policy` act over HTTP.

Why: to show that an episode played through the server is the same episode as one played in process, the
same policy must be able to act on both sides; and reference policies over HTTP make load tests and smoke
checks that need no model.
"""

from __future__ import annotations

from typing import Any

from synthagent.spec.models import Message

_ACTORS = {"system": "system", "user": "user", "assistant": "agent", "tool": "tool"}


def from_wire(message: dict[str, Any]) -> Message:
    """An OpenAI chat message as the runtime's `Message` (the actor follows from the role)."""
    fields = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls", "tool_call_id", "name")}
    return Message(actor=_ACTORS.get(message.get("role", ""), "user"), **fields)


def policy_act(policy: Any, task: Any, seed: int) -> Any:
    """An `act(messages, tools)` over wire messages for the client's `play`, backed by `policy.session`."""
    session = policy.session(task, seed)

    def act(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        return session.act([from_wire(m) for m in messages], tools).openai()

    return act
