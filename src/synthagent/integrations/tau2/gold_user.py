"""A scripted τ² user that performs the user's reference actions: the instrument for gold replay.

It checks the harness, not an agent: with a policy that replays the assistant's reference actions, every
τ² task must score 1.0, including telecom's dual-control tasks whose reference actions are partly the
user's (toggle airplane mode, reseat the SIM, …). Its script, from the task's reference actions:

- first reply: the opening request, ending with a `[tau2 task <id>]` marker, so a replaying policy
  (tests/fakeserver.py) knows which task it plays — the only channel from environment to policy is text;
- each later text message of the agent: if user reference actions remain, perform the next block of
  consecutive ones (one tool call per message, as τ²'s guidelines ask), then say "Done."; otherwise
  send τ²'s stop signal.

A replaying policy therefore speaks only to hand a block of actions to the user and to finish.
"""

from __future__ import annotations

import json
from typing import Any

from synthagent.integrations.tau2.orchestrate import TrialContext
from synthagent.spec.models import FunctionCall, Message, ToolCall

TASK_MARKER = "[tau2 task {id}]"


def user_blocks(task_raw: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The user's reference actions, grouped into runs of consecutive user actions."""
    blocks: list[list[dict[str, Any]]] = []
    previous = None
    for action in (task_raw.get("evaluation_criteria") or {}).get("actions") or []:
        requestor = action.get("requestor", "assistant")
        if requestor == "user":
            if previous != "user":
                blocks.append([])
            blocks[-1].append(action)
        previous = requestor
    return blocks


def opening(task_raw: dict[str, Any]) -> str:
    scenario = task_raw.get("user_scenario") or {}
    instructions = scenario.get("instructions") or {}
    reason = instructions.get("reason_for_call") if isinstance(instructions, dict) else None
    text = str(reason or instructions or "I need help.").strip()
    return f"Hi! {text} {TASK_MARKER.format(id=task_raw['id'])}"


class GoldUser:
    label = "scripted-gold-user"

    def __init__(self, stop_signal: str = "###STOP###"):
        self.stop_signal = stop_signal

    async def reply(self, ctx: TrialContext, view: list[dict[str, Any]]) -> Message:
        own = [m for m in ctx.messages if m.actor == "user"]
        if not own:
            return Message(role="user", actor="user", content=opening(ctx.task_raw))
        blocks = user_blocks(ctx.task_raw)
        last = ctx.messages[-1]
        done_calls = sum(len(m.tool_calls or []) for m in own)
        done_texts = sum(1 for m in own[1:] if not m.tool_calls)  # "Done." messages after the opening
        if last.actor == "tool":  # a result of our own call: continue the current block or report
            block = blocks[done_texts]
            performed = done_calls - sum(len(b) for b in blocks[:done_texts])
            if performed < len(block):
                return self._call(block[performed], done_calls)
            return Message(role="user", actor="user", content="Done.")
        if done_texts < len(blocks):
            return self._call(blocks[done_texts][0], done_calls)
        return Message(role="user", actor="user", content=self.stop_signal)

    @staticmethod
    def _call(action: dict[str, Any], index: int) -> Message:
        call = ToolCall(id=f"user_call_{index}",
                        function=FunctionCall(name=action["name"], arguments=json.dumps(action.get("arguments") or {})))
        return Message(role="user", actor="user", content=None, tool_calls=[call])
