"""`eval tau2` throughput: 50 airline tasks × k trials with the policy and the user simulator each answering
after a fixed latency, wall time against the ideal at the configured concurrency.

Both roles are served by the local fake OpenAI server: the policy replays τ²'s reference actions
(tests/tau2_gold_policy.py); the user simulator, an LLM role like any other here, opens with the task's
request and then stops. The ideal is what perfect packing of the calls allows: the total model time spread
over `concurrency` trials in flight, and never less than the longest trial's chain of calls. Trials start
longest first (`evaluation.expected_length`), so the ideal is within reach; in input order a long task
near the end of the list ran alone after the others (efficiency 0.69 against 0.87, docs/tau2.md).

    python bench/eval_throughput.py [--k 4] [--latency-ms 200] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from fakeserver import FakeOpenAIServer, route_by_model  # noqa: E402
from tau2_gold_policy import gold_policy, write_tools  # noqa: E402

from synthagent.integrations.tau2 import load_raw_tasks  # noqa: E402
from synthagent.integrations.tau2.evaluation import report, run_trials  # noqa: E402
from synthagent.integrations.tau2.gold_user import opening  # noqa: E402
from synthagent.integrations.tau2.orchestrate import LLMAgent, LLMUser  # noqa: E402
from synthagent.llm.client import LLMClient  # noqa: E402
from synthagent.llm.config import LLMConfig  # noqa: E402


def user_responder(tasks_raw: list[dict]):
    from tau2.data_model.tasks import UserScenario

    by_scenario = {str(UserScenario.model_validate(t["user_scenario"])): t for t in tasks_raw}

    def respond(body: dict) -> str:
        system = body["messages"][0]["content"]
        task = next(t for s, t in by_scenario.items() if f"<scenario>\n{s}\n</scenario>" in system)
        return opening(task) if len(body["messages"]) <= 2 else "###STOP###"

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    raw = load_raw_tasks("airline", "base")
    latency = args.latency_ms / 1000
    routes = {"policy": gold_policy(raw, write_tools("airline")), "user": user_responder(raw)}
    with FakeOpenAIServer(route_by_model(routes), latency_s=latency) as server:
        async def run() -> list:
            cfg = LLMConfig(roles={"policy": {"model": "policy", "base_url": server.base_url},
                                   "user": {"model": "user", "base_url": server.base_url}},
                            concurrency=max(64, 2 * args.concurrency), max_retries=0)
            client = LLMClient(cfg)
            try:
                return await run_trials("airline", raw, LLMAgent(client, "policy"), LLMUser(client), k=args.k,
                                        seed=300, concurrency=args.concurrency)
            finally:
                await client.aclose()

        start = time.perf_counter()
        trials = asyncio.run(run())
        wall = time.perf_counter() - start
        requests = server.request_count
    calls = [t.trajectory.counters.agent_turns + t.trajectory.counters.user_turns for t in trials]
    ideal = max(sum(calls) * latency / args.concurrency, max(calls) * latency)
    result = report("airline", "base", raw, trials, k=args.k, seed=300, protocol="tau2", policy="policy",
                    user_model="user")
    print(f"airline: {len(raw)} tasks × k={args.k} = {len(trials)} trials, {requests} model calls "
          f"({sum(calls)} counted by the trials), latency {args.latency_ms:.0f} ms, concurrency {args.concurrency}")
    print(f"pass^1 {result['summary'].get('pass^1')}, pass^{args.k} {result['summary'].get(f'pass^{args.k}')}, "
          f"unscored {result['unscored']}")
    print(f"wall {wall:.2f} s, ideal {ideal:.2f} s, efficiency (ideal / wall) {ideal / wall:.3f}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
