"""Consistency of the LLM mock tools: N tasks × k rollouts with the LLM user and LLM tools.

Every rollout runs against the local scripted server (tests/sim_llm/llmsim_kit.py: a user that answers
from its ledger, a tool simulator that reuses an entry whose arguments match up to letter case and
otherwise writes a schema-valid response) with a policy that plays each task's gold plan while writing its
arguments the way varied agents would: shuffled keys, odd spacing, padded or re-cased strings, repeated
calls and calls with made-up ids. The k rollouts of a task run concurrently, as a GRPO group does.

Figures: the share of repeated (tool, canonical arguments) keys within a task that always got the same
response (target 100%), the same for groups of calls that differ only in letter case, and the hit rate
(calls answered from the mapping M without a model call). Both settings of `serialize_per_tool` run.

Write-then-read sequences (state-aware mock tools): per task, k concurrent rollouts each read a record, write
a rollout-specific status to it, read it twice, and read another record. Figures: read-after-write
consistency (every read after a write of its record shows the written values), the M hit rate of the calls
M serves, and the reads answered from the episode's state; with `state_aware` on and off.

    python bench/mock_tools_consistency.py [--tasks 100] [--k 4] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "sim_llm"))

import llmsim_kit as kit  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    tasks = kit.tasks_for_consistency(args.tasks)
    print(f"{args.tasks} tasks x {args.k} rollouts, LLM user + LLM tools, scripted server "
          f"(latency {args.latency_ms:g} ms)")
    for serialize in (True, False):
        with FakeOpenAIServer(kit.responder(), latency_s=args.latency_ms / 1000) as server, \
                tempfile.TemporaryDirectory() as store:
            started = time.perf_counter()
            _, _, s = asyncio.run(kit.run_consistency(tasks, args.k, kit.role_config(server), Path(store),
                                                      serialize_per_tool=serialize))
            elapsed = time.perf_counter() - started
        print(f"\nserialize_per_tool={serialize}  ({elapsed:.1f} s, {server.request_count} model requests)")
        print(f"  tool calls answered          {s['calls']}  ({s['distinct_keys']} distinct (tool, canonical args))")
        print(f"  repeated keys consistent     {s['consistent_keys']}/{s['repeated_keys']} = {s['consistency']:.1%}")
        print(f"  case-variant groups consistent {s['case_variant_consistency']:.1%} of {s['case_variant_groups']}")
        print(f"  hit rate (no model call)     {s['hit_rate']:.1%}  ({s['hits']} hits, {s['new_entries']} new, "
              f"{s['reused_entries']} reused)")
        print(f"  schema violations / faults   {s['schema_violations']} / {s['tool_faults']}")

    print(f"\nwrite-then-read: {args.tasks} tasks x {args.k} rollouts (read R1, write R1, read R1 twice, read R2)")
    for state_aware in (True, False):
        with FakeOpenAIServer(kit.responder(tool=kit.state_aware_tool_responder),
                              latency_s=args.latency_ms / 1000) as server, tempfile.TemporaryDirectory() as store:
            w = asyncio.run(kit.run_write_then_read(args.tasks, args.k, kit.role_config(server), Path(store),
                                                    state_aware=state_aware))
        print(f"\nstate_aware={state_aware}  ({server.request_count} model requests)")
        print(f"  read-after-write consistent  {w['consistent_reads']}/{w['reads_after_write']} = "
              f"{w['read_after_write_consistency']:.1%}")
        print(f"  M hit rate (calls M serves)  {w['m_hit_rate']:.1%} of {w['m_calls']}")
        print(f"  reads from the episode state {w['state_reads']} model calls, {w['state_hits']} repeats served")


if __name__ == "__main__":
    main()
