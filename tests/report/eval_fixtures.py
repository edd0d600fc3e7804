"""A real small `eval tau2` run for the eval page's tests: the LLM agent and the LLM user simulator both on the
local fake server, with a verdict that flips across trials, a task that always fails and a simulator fault.

Airline tasks with a reference write, k=3, per trial (seeds drawn as τ² draws them):
- FLIPPING: the policy skips the final write in trial 1 only → ✓ ✗ ✓ (2 flips);
- FAILING: the policy skips it in every trial → ✗ ✗ ✗;
- FAULTY: the user simulator's endpoint fails for good in trial 0 → unscored, then ✓ ✓;
- the rest: gold replay → ✓ ✓ ✓.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import Fault, FakeOpenAIServer, route_by_model  # noqa: E402
from tau2_gold_policy import MARKER, gold_policy, write_tools  # noqa: E402

K, SEED = 3, 11


def eval_tasks() -> list[dict[str, Any]]:
    from synthagent.integrations.tau2 import load_raw_tasks

    writes = write_tools("airline")
    return [t for t in load_raw_tasks("airline", "base")
            if any(a.get("requestor", "assistant") == "assistant" and a["name"] in writes
                   for a in t["evaluation_criteria"].get("actions") or [])][:5]


def _task_of(messages: list[dict[str, Any]]) -> str | None:
    for m in messages:
        found = MARKER.search(m.get("content") or "") if m.get("role") == "user" else None
        if found:
            return found.group(1)
    return None


def run_eval(*, seed: int = SEED, user_model: str = "sim-user") -> dict[str, Any]:
    """The eval's JSON (`evaluation.report`) of the run described above."""
    from tau2.data_model.tasks import UserScenario

    from synthagent.integrations.tau2.evaluation import report, run_trials
    from synthagent.integrations.tau2.gold_user import opening
    from synthagent.integrations.tau2.orchestrate import LLMAgent, LLMUser
    from synthagent.integrations.tau2.protocol import load_protocol
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import LLMConfig

    raw = eval_tasks()
    flipping, failing, faulty = (str(t["id"]) for t in raw[:3])
    seeds = load_protocol().trial_seeds(seed, K)
    gold, skip = gold_policy(raw, write_tools("airline")), gold_policy(raw, write_tools("airline"), True)

    def policy(body: dict[str, Any]) -> Any:
        task, trial = _task_of(body["messages"]), seeds.index(body["seed"])
        return (skip if task == failing or (task == flipping and trial == 1) else gold)(body)

    scenarios = {str(UserScenario.model_validate(t["user_scenario"])): t for t in raw}

    def user(body: dict[str, Any]) -> Any:
        system = body["messages"][0]["content"]
        task = next(t for s, t in scenarios.items() if f"<scenario>\n{s}\n</scenario>" in system)
        if str(task["id"]) == faulty and seeds.index(body["seed"]) == 0:
            return Fault.server_error()
        return opening(task) if len(body["messages"]) <= 2 else "###STOP###"

    with FakeOpenAIServer(route_by_model({"agent": policy, user_model: user})) as server:
        async def main() -> list[Any]:
            cfg = LLMConfig(roles={"policy": {"model": "agent", "base_url": server.base_url},
                                   "user": {"model": user_model, "base_url": server.base_url}}, max_retries=0)
            client = LLMClient(cfg)
            try:
                return await run_trials("airline", raw, LLMAgent(client, "agent"), LLMUser(client), k=K, seed=seed)
            finally:
                await client.aclose()

        trials = asyncio.run(main())
    return report("airline", "base", raw, trials, k=K, seed=seed, protocol="tau2", policy="agent", user_model=user_model)
