"""BFCL multi-turn entries played by an OpenAI-compatible policy in our runtime, scored by `check`.

Each turn's user messages are appended; the policy answers with native tool calls, which run on the
entry's API instances and come back as tool messages, until it answers without calls or reaches BFCL's
step limit for a turn (`MAXIMUM_STEP_LIMIT`). A `miss_func` turn with no user message adds the withheld
functions and says BFCL's own line for it. Malformed arguments become error results; an endpoint that
fails for good makes the run unscored (a fault), never a 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthagent.integrations.bfcl.backend import BfclSession, BfclVerdict, Call, check
from synthagent.integrations.bfcl.data import BfclEntry, tools_for
from synthagent.spec.models import Fault

if TYPE_CHECKING:
    from synthagent.llm.client import LLMClient


@dataclass
class BfclRun:
    entry: BfclEntry
    trial: int
    calls: list[list[list[Call]]]
    messages: list[dict[str, Any]]
    verdict: BfclVerdict | None
    fault: Fault | None = None


def bfcl_limits() -> tuple[int, str]:
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC, MAXIMUM_STEP_LIMIT

    return int(MAXIMUM_STEP_LIMIT), str(DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC)


async def run_entry(entry: BfclEntry, client: "LLMClient", docs: dict[str, list[dict[str, Any]]], *, trial: int = 0,
                    seed: int = 0, role: str = "policy", irrelevance: bool = False) -> BfclRun:
    from synthagent.llm.errors import LLMError

    max_steps, added_line = bfcl_limits()
    session = BfclSession(entry)
    messages: list[dict[str, Any]] = []
    calls: list[list[list[Call]]] = []
    try:
        for turn, user_messages in enumerate(entry.turns):
            messages.extend(user_messages or [{"role": "user", "content": added_line}])
            tools = tools_for(entry, turn, docs)
            steps: list[list[Call]] = []
            for _ in range(max_steps):
                reply = await client.chat(role, messages, tools, seed=seed, cache_salt=f"bfcl:{entry.id}:{trial}",
                                          stage="bfcl")
                messages.append(reply.message())
                if not reply.tool_calls:
                    break
                step = []
                for tc in reply.tool_calls:
                    fn = tc.get("function") or {}
                    try:
                        args = json.loads(fn.get("arguments") or "{}")
                        call = Call(str(fn.get("name", "")), (), args if isinstance(args, dict) else {})
                        result = session.call(call) if isinstance(args, dict) else \
                            "Error during execution: arguments must be a JSON object"
                    except json.JSONDecodeError as err:
                        call = Call(f"<malformed {fn.get('name', '')}>")
                        result = f"Error during execution: arguments are not valid JSON ({err.msg})"
                    step.append(call)
                    messages.append({"role": "tool", "tool_call_id": tc.get("id", ""), "content": result})
                steps.append(step)
            calls.append(steps)
    except LLMError as err:
        return BfclRun(entry, trial, calls, messages, None, Fault(role="policy", message=f"{type(err).__name__}: {err}"))
    return BfclRun(entry, trial, calls, messages, check(entry, calls, irrelevance=irrelevance))
