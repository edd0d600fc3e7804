"""Procedural-world speed: generation rate (with self-tests), one tool-call step, scoring one trajectory.

Prints medians over repeated runs on this machine. Rates use process CPU time (time.process_time), so a
busy machine does not understate the per-core figure; the per-call timings are wall-clock medians.
Targets (issue 2): ≥ 500 tasks/s per core including
self-tests, ≤ 50 µs per tool-call step, ≤ 1 ms to score a trajectory. Run: `python bench/procedural.py`.
"""

from __future__ import annotations

import json
import statistics
import time

from synthagent.reward.scorer import score
from synthagent.reward.selftest import self_test
from synthagent.sim.reference import OraclePolicy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.worlds import Knobs, domain_names, generate_task, get_domain


def tasks(n: int, offset: int = 0):
    names = domain_names()
    for i in range(n):
        level = 1 + i % 5
        yield generate_task(get_domain(names[i % len(names)]), offset + i, Knobs.for_difficulty(level), level)


def generation_rate(n: int = 500, repeats: int = 5) -> tuple[float, float]:
    gen_only, with_tests = [], []
    for r in range(repeats):
        t0 = time.process_time()
        made = list(tasks(n, r * n))
        t1 = time.process_time()
        for t in made:
            self_test(t)
        t2 = time.process_time()
        gen_only.append(n / (t1 - t0))
        with_tests.append(n / (t2 - t0))
    return statistics.median(gen_only), statistics.median(with_tests)


def tool_step(n: int = 20000) -> float:
    task = next(t for t in tasks(50) if t.difficulty == 4)
    session = ExecutableBackend().session(task)
    calls = [(a.tool, json.dumps(a.arguments)) for a in task.gold if a.kind == "call"]
    samples = []
    for i in range(n):
        name, args = calls[i % len(calls)]
        if task.tool(name).kind == "write":
            continue
        t0 = time.perf_counter_ns()
        session.call(name, args)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000


def scoring(n: int = 300) -> float:
    pairs = [(t, run_episode_sync(t, OraclePolicy(), ScriptedUser(), ExecutableBackend())) for t in tasks(n)]
    samples = []
    for task, traj in pairs * 3:
        t0 = time.perf_counter_ns()
        score(task, traj)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1e6


def main() -> None:
    gen, full = generation_rate()
    print(f"domains: {len(domain_names())}")
    print(f"generation only:            {gen:8.0f} tasks/s (one core, median of 5 x 500)")
    print(f"generation + self-tests:   {full:8.0f} tasks/s (target >= 500)")
    print(f"tool-call step (read):      {tool_step():8.1f} us median (target <= 50)")
    print(f"score one trajectory:       {scoring():8.3f} ms median (target <= 1)")


if __name__ == "__main__":
    main()
