"""A responder for tests/fakeserver.py that plays τ² reference actions as an OpenAI-compatible policy.

Its plan for a task: the assistant's reference actions as native tool calls, one per reply; where the
user's reference actions come, one text message asking the user to do them; finally one text message
saying every `communicate_info` string. The task is found by the `[tau2 task <id>]` marker that the
scripted gold user (integrations/tau2/gold_user.py) puts in its opening; the plan step is the number of
assistant replies so far (the orchestrator's greeting excluded). `skip_final_write` drops the last
assistant action of a WRITE tool, so a correct scorer must fail every task that has one.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"\[tau2 task (.+)\]$")  # at the end: τ² ids may contain brackets


def plan(task_raw: dict[str, Any], write_tools: set[str], skip_final_write: bool = False) -> list[dict[str, Any]]:
    criteria = task_raw.get("evaluation_criteria") or {}
    actions = list(criteria.get("actions") or [])
    if skip_final_write:
        writes = [i for i, a in enumerate(actions)
                  if a.get("requestor", "assistant") == "assistant" and a["name"] in write_tools]
        if writes:
            del actions[writes[-1]]
    steps: list[dict[str, Any]] = []
    previous = None
    for action in actions:
        if action.get("requestor", "assistant") == "user":
            if previous != "user":
                steps.append({"content": f"Please do this on your phone: {action['name']}."})
        else:
            steps.append({"tool_calls": [{"name": action["name"], "arguments": action.get("arguments") or {}}]})
        previous = action.get("requestor", "assistant")
    info = [str(i) for i in criteria.get("communicate_info") or []]
    steps.append({"content": ("To confirm: " + "; ".join(info) + ".") if info else "All done. Anything else?"})
    return steps


def gold_policy(tasks_raw: list[dict[str, Any]], write_tools: set[str], skip_final_write: bool = False):
    plans = {str(t["id"]): plan(t, write_tools, skip_final_write) for t in tasks_raw}

    def responder(body: dict[str, Any]) -> Any:
        messages = body.get("messages", [])
        task_id = None
        for m in messages:
            if m.get("role") == "user" and isinstance(m.get("content"), str):
                found = MARKER.search(m["content"])
                if found:
                    task_id = found.group(1)
                    break
        if task_id is None:
            return "Could you tell me what you need?"
        step = sum(1 for m in messages if m.get("role") == "assistant") - 1  # minus the greeting
        steps = plans[task_id]
        return steps[step] if step < len(steps) else "Is there anything else I can help with?"

    return responder


def write_tools(domain: str) -> set[str]:
    from synthagent.integrations.tau2 import WORLDS

    return {name for name, kind in WORLDS.describe(domain)[2].items() if kind == "write"}


def run_gold(domain: str, tasks_raw: list[dict[str, Any]], *, skip_final_write: bool = False, k: int = 1,
             seed: int = 300, protocol: str = "tau2", latency_s: float = 0.0, concurrency: int = 8) -> list[Any]:
    """Every task × k trials: this responder as the policy behind a local fake server, the scripted gold user."""
    import asyncio

    from fakeserver import FakeOpenAIServer

    from synthagent.integrations.tau2.evaluation import run_trials
    from synthagent.integrations.tau2.gold_user import GoldUser
    from synthagent.integrations.tau2.orchestrate import LLMAgent
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import LLMConfig

    responder = gold_policy(tasks_raw, write_tools(domain), skip_final_write)
    with FakeOpenAIServer(responder, latency_s=latency_s) as server:
        async def main() -> list[Any]:
            client = LLMClient(LLMConfig.for_endpoint(server.base_url, "gold-replay", max_retries=0))
            try:
                return await run_trials(domain, tasks_raw, LLMAgent(client, "gold-replay"), GoldUser(), k=k, seed=seed,
                                        protocol=protocol, concurrency=concurrency)  # type: ignore[arg-type]
            finally:
                await client.aclose()

        return asyncio.run(main())
