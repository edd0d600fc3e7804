"""The scripted user: a deterministic stand-in for a person who knows the private ledger.

It reveals at most one slot per turn and only a slot the agent asked about, confirms a proposed change
only when the proposal states every value of a change it wants, refuses other proposals, says it does not
know anything else, and never volunteers. After `patience` unproductive turns in a row it hangs up.
"""

from __future__ import annotations

import random

from synthagent.sim.conventions import asks_confirmation, mentions
from synthagent.sim.interfaces import UserReply
from synthagent.spec.models import Message, Task

TRANSFER_CUES = ("transfer you", "human agent", "escalate")
REVEAL = ["My {label} is {value}.", "It's {value}.", "Sure, it is {value}.", "The {label} is {value}.", "{value}."]
DONT_KNOW = ["Sorry, I don't know that.", "I'm not sure what you mean.", "I don't have that information.",
             "I can't help with that, sorry."]
APPROVE = "Yes, please go ahead."
REFUSE = "No, that is not what I asked for."


class ScriptedUser:
    def __init__(self, patience: int = 4):
        self.patience = patience

    def session(self, task: Task, seed: int) -> "ScriptedUserSession":
        return ScriptedUserSession(task, random.Random(seed), self.patience)


class ScriptedUserSession:
    def __init__(self, task: Task, rng: random.Random, patience: int):
        self.task = task
        self.rng = rng
        self.patience = patience
        self.revealed: set[str] = set()
        self.pending = [a for a in task.gold if a.kind == "call" and _is_write(task, a.tool)]
        self.approved: list[str] = []
        self.unproductive = 0

    def opening(self) -> str:
        return self.task.instruction

    def reply(self, agent_text: str, history: list[Message]) -> UserReply:
        text = (agent_text or "").lower()
        if any(cue in text for cue in TRANSFER_CUES):
            return UserReply(text="Okay, thank you. ###STOP###", stop=True, stop_reason="transfer")
        wants_confirmation = asks_confirmation(text)
        if wants_confirmation:
            for action in self.pending:
                values = list((action.arguments or {}).values())
                if values and all(mentions(text, v) for v in values):
                    self.pending.remove(action)
                    self.approved.append(action.tool or "")
                    self.unproductive = 0
                    return UserReply(text=APPROVE)
        for slot in self.task.private_info:
            if slot.name in self.revealed:
                continue
            if any(k in text for k in slot.keywords):
                self.revealed.add(slot.name)
                self.unproductive = 0
                label = slot.description.removeprefix("the user's ")
                phrase = self.rng.choice(REVEAL).format(label=label, value=slot.value)
                return UserReply(text=phrase[0].upper() + phrase[1:], revealed=[slot.name])
        self.unproductive += 1
        if self.unproductive >= self.patience:
            return UserReply(text="I don't think this is going anywhere. Goodbye. ###STOP###", stop=True,
                             stop_reason="patience")
        if wants_confirmation:
            return UserReply(text=REFUSE)
        return UserReply(text=self.rng.choice(DONT_KNOW))


def _is_write(task: Task, tool: str | None) -> bool:
    spec = task.tool(tool or "")
    return spec is not None and spec.kind == "write"
