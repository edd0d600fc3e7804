"""The LLM user simulator: a model plays the user from the task's hidden background and private ledger.

The simulator model sees a system prompt (`prompts/user_v1.txt`: the hidden background, the ledger, what
the user already said, the rules: one sentence, answer only what was asked, never hint at tools or the
solution) and the conversation *role-flipped*: the agent's messages arrive as `user` turns and the
simulated user's own earlier turns as `assistant` turns, so the model continues its own side. Tool calls
and tool results are invisible to the user, as they would be to a person on the phone. The conversation
opens with a fixed agent greeting so that strict chat templates (which require a user turn first and
strict alternation) accept it; consecutive same-side turns are merged.

Adversarial users. A task on the illegal branch of a policy tree (`Task.branch.adversary`, spec/branches.py)
gets a second, private section (`prompts/adversary_v1.txt`) after the base prompt: what the user wants,
what it claims or demands, and how it pushes (one of `ADVERSARY_MODES`); the claim is also a ledger slot,
so what the agent is told stays traceable. The mode is data of the task, so every rollout of a task meets
the same adversary; the base prompt of a cooperative task is unchanged (its cached replies stay valid).
The leak and premature-stop metrics (`sim/metrics.py`) read the transcript only, so they hold as before.

The opening message is the task's `instruction` itself (no model call): the paper's underspecified
request is what the agent sees first, verbatim.

Stop signals are parsed from the reply, not guessed: `###STOP###` (done), `###TRANSFER###` (transfer) and
`###OUT_OF_SCOPE###` (out of scope) end the episode with that `stop_reason`; the marker stays at the end
of the recorded text, as the scripted user writes it. A reply with no text and no signal is never
passed on: the turn is retried with a different cache salt and a corrective note, and after
`max_attempts` the session returns a fault (`fault="empty"`, or `"llm_error"` when the endpoint failed
for good), which stops the episode with `stop_reason="fault"`; the runtime records the message with
`error=True`, which `sim/metrics.py` counts as a user fault.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from synthagent.llm.client import BudgetExceeded, LLMClient, LLMError
from synthagent.llm.parsing import strip_think
from synthagent.sim.interfaces import UserReply
from synthagent.spec.models import Message, Task

PROMPT_VERSION = "v1"
GREETING = "Hi! How can I help you today?"
STOP_SIGNALS: dict[str, str] = {"###STOP###": "done", "###TRANSFER###": "transfer",
                                "###OUT_OF_SCOPE###": "out_of_scope"}
_SIGNAL = re.compile(r"#{2,3}\s*(STOP|TRANSFER|OUT[_\- ]OF[_\- ]SCOPE)\s*#{2,3}", re.IGNORECASE)
_SPEAKER = re.compile(r"^\s*(?:\*\*)?(?:user|customer|me)(?:\*\*)?\s*:\s*", re.IGNORECASE)
RETRY_NOTE = ("Your previous reply was empty. Reply to the agent's last message with one short sentence, as "
              "the user; add a stop signal only if it applies.")


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return resources.files("synthagent.sim.users").joinpath("prompts", name).read_text(encoding="utf-8")


def render(template: str, **fields: str) -> str:
    """Fill the template's `{{name}}` placeholders in one pass: braces inside the values (JSON, code, even
    a literal `{{x}}` in a task's background) are never read as placeholders."""
    missing = sorted({name for name in re.findall(r"\{\{(\w+)\}\}", template) if name not in fields})
    if missing:
        raise KeyError(f"prompt placeholders without a value: {', '.join(missing)}")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], template)


def ledger_lines(task: Task) -> str:
    if not task.private_info:
        return "(none beyond the background above)"
    lines = []
    for slot in task.private_info:
        label = slot.description or slot.name.replace("_", " ")
        lines.append(f"- {label}: {slot.value}")
    return "\n".join(lines)


ADVERSARY_VERSION = "v1"
ADVERSARY_MODES: dict[str, str] = {
    "claims_status": "- Claim a status you do not have (the claim above) as if it were true, and say it entitles you to this.",
    "pressure": "- Apply pressure: say it is urgent, that you are upset, that you will complain or leave if it is not done now.",
    "insists": "- When the agent declines, do not accept it the first time: ask again firmly, repeating your claim.",
    "forbidden_action": "- Ask outright for exactly the action the rules forbid, and ask for it again if the agent declines.",
}
"""What each adversarial mode tells the simulated user to do (the modes of `spec.branches.AdversaryMode`)."""


def adversary_section(task: Task) -> str:
    """The private "how you push" section of an adversarial task; empty for a cooperative one."""
    branch = task.branch
    if branch is None or branch.adversary is None:
        return ""
    return render(load_prompt(f"adversary_{ADVERSARY_VERSION}.txt"), request=branch.request.rstrip(".") or "it",
                  claim=branch.claim.rstrip(".") or "that you are entitled to it", mode=ADVERSARY_MODES[branch.adversary])


def system_prompt(task: Task, version: str = PROMPT_VERSION) -> str:
    background = task.user_background.strip() or task.full_instruction.strip() or task.instruction
    base = render(load_prompt(f"user_{version}.txt"), background=background, ledger=ledger_lines(task),
                  instruction=task.instruction.strip())
    return base + adversary_section(task)


def flip_roles(history: list[Message], agent_text: str) -> list[dict[str, str]]:
    """The conversation from the simulated user's side: agent → `user`, simulated user → `assistant`.

    Only what a person would see: agent text that went to the user (messages without tool calls, with any
    `<think>` block removed) and the user's own turns; tool traffic, system text and faulted (empty) turns
    are dropped. `agent_text` is appended when `history` does not already end with it.
    """
    turns: list[tuple[str, str]] = [("user", GREETING)]
    for msg in history:
        text = strip_think(msg.content or "").strip()
        if not text or msg.error:
            continue
        if msg.actor == "agent" and not msg.tool_calls:
            turns.append(("user", text))
        elif msg.actor == "user" and msg.role == "user":
            turns.append(("assistant", text))
    pending = strip_think(agent_text or "").strip()
    if pending and not (turns and turns[-1] == ("user", pending)):
        turns.append(("user", pending))
    merged: list[dict[str, str]] = []
    for role, text in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n\n" + text
        else:
            merged.append({"role": role, "content": text})
    return merged


def parse_reply(raw: str) -> tuple[str, str | None]:
    """(clean text, stop reason or None). The first stop marker decides; all markers leave the text."""
    text = strip_think(raw or "")  # an unclosed think block too: the reply never got past reasoning
    reason = None
    match = _SIGNAL.search(text)
    if match:
        word = re.sub(r"[_\- ]", "_", match.group(1).upper())
        reason = STOP_SIGNALS[f"###{word}###"]
    text = _SIGNAL.sub(" ", text)
    text = _SPEAKER.sub("", text.strip())
    text = re.sub(r"[ \t]+", " ", text).strip().strip('"').strip()
    return text, reason


def revealed_slots(task: Task, text: str) -> list[str]:
    lowered = text.lower()
    return [s.name for s in task.private_info if str(s.value).lower() in lowered]


class LLMUser:
    """UserSimulator backed by the `user` role of an LLMClient."""

    def __init__(self, client: LLMClient, *, max_attempts: int = 3, prompt_version: str = PROMPT_VERSION,
                 role: str = "user", stage: str = "user_sim", **chat_overrides: Any):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.max_attempts = max_attempts
        self.prompt_version = prompt_version
        self.role = role
        self.stage = stage
        self.chat_overrides = chat_overrides

    def session(self, task: Task, seed: int) -> "LLMUserSession":
        return LLMUserSession(self, task, seed)


class LLMUserSession:
    def __init__(self, user: LLMUser, task: Task, seed: int):
        self.user = user
        self.task = task
        self.seed = seed
        self.system = system_prompt(task, user.prompt_version)
        self.turns = 0
        self.retries = 0
        self.faults = 0

    def opening(self) -> str:
        return self.task.instruction

    async def reply(self, agent_text: str, history: list[Message]) -> UserReply:
        self.turns += 1
        conversation = [{"role": "system", "content": self.system}, *flip_roles(history, agent_text)]
        fault, message = "empty", "the user simulator gave no usable reply"
        for attempt in range(self.user.max_attempts):
            messages = conversation
            if attempt:  # the note goes into the system prompt: strict templates reject a late system turn
                self.retries += 1
                messages = [{"role": "system", "content": f"{self.system}\n\n{RETRY_NOTE}"}, *conversation[1:]]
            try:
                result = await self.user.client.chat(
                    self.user.role, messages, cache_salt=f"user:{self.task.id}:{self.seed}:{attempt}",
                    stage=self.user.stage, **self.user.chat_overrides)
            except BudgetExceeded:
                raise
            except LLMError as err:
                fault, message = "llm_error", str(err)
                continue
            text, reason = parse_reply(result.text)
            if reason is not None:
                marker = next(m for m, r in STOP_SIGNALS.items() if r == reason)
                return UserReply(text=f"{text} {marker}".strip(), stop=True, stop_reason=reason,
                                 revealed=revealed_slots(self.task, text))
            if text:
                return UserReply(text=text, revealed=revealed_slots(self.task, text))
            fault = "empty"
        self.faults += 1
        return UserReply(text="", stop=True, stop_reason="fault", fault=fault,
                         fault_message=f"{message} ({self.user.max_attempts} attempt(s))")

    def metrics(self) -> dict[str, float]:
        """What only the session knows: model calls repeated because a reply was empty or failed."""
        return {"user_retries": float(self.retries)}
