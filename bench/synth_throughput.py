"""Throughput of the LLM synthesis pipeline against the local fake server with injected latency.

The whole pipeline runs (stages A–F, the teacher, the LLM user and the LLM mock tools, state files,
the SQLite cache) against ``tests/fakeserver.py`` playing every role (``tests/synth_llm/
synth_fake_teacher.py``), with every request held ``--latency-ms`` at the server. With ``--concurrency``
tasks in flight, each making one call at a time, the ideal call rate is concurrency ÷ latency; the figure
is the achieved fraction of it, counted from the pipeline client's own usage (endpoint calls), over the
whole run and in steady state (between 10% and 90% of the tasks finished, so ramp-up and the drain of the
last tasks are left out). The server runs in its own process, as a real endpoint would.

With ``--workers K`` the pipeline runs in K local processes (``synth llm --workers``), each with its own
event loop and a K-th of the concurrency; the client CPU figure then sums the parent and the workers.

The whole-run figure cannot reach 1 even with a client that costs nothing: a unit's calls are made one
after another (up to ~60 of them, 12 s at 200 ms), and when the last units start, the slots of the units
already finished stay empty until the run ends. ``whole_run_bound`` is the whole-run fraction such a
free client would reach on this run's units: each unit's model calls (from its state file) at one
latency each, pulled in order by ``concurrency`` slots (per worker with ``--workers``), as the pipeline
pulls them. The steady figure is the one that measures the client.

    python bench/synth_throughput.py [--tasks 2048] [--concurrency 256] [--latency-ms 200] [--workers 1]
                                     [--no-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "synth_llm"))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402


def serve(latency_ms: float, fault_rate: float, seed: int) -> None:
    server = FakeOpenAIServer(fake.responder, latency_s=latency_ms / 1000, fault_rate=fault_rate, seed=seed,
                              keep_requests=False)
    asyncio.run(server.serve_forever(lambda port: print(f"PORT {port}", flush=True)))


def start_server(latency_ms: float, fault_rate: float = 0.0, seed: int = 0) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", "--latency-ms", str(latency_ms),
                                "--fault-rate", str(fault_rate), "--seed", str(seed)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline().split()[1])
    return process, f"http://127.0.0.1:{port}/v1"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def measure(base_url: str, args: argparse.Namespace, out: Path) -> dict[str, object]:
    from synthagent.llm import load_config
    from synthagent.synth.llm import SynthOptions, load_personas, run_pipeline, run_processes

    (out / "llm.yaml").write_text(fake.config_yaml(base_url, timeout_s=30.0))
    config = load_config(out / "llm.yaml")
    personas = load_personas()
    samples: list[tuple[float, int, int]] = []

    def on_progress(p: object) -> None:
        samples.append((time.perf_counter(), p.finished, p.calls))  # type: ignore[attr-defined]

    options = SynthOptions(n=args.tasks, concurrency=args.concurrency, max_turns=10)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, started = time.process_time(), time.perf_counter()
    if args.workers > 1:
        if args.no_cache:
            raise SystemExit("--no-cache is for one process: workers share the cache")
        summary = run_processes(config, personas, out / "run", options, workers=args.workers,
                                on_progress=on_progress)
    else:
        summary = asyncio.run(run_pipeline(config, personas, out / "run", options, on_progress=on_progress,
                                           cache_path=False if args.no_cache else None))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    calls = summary["session"]["endpoint_calls"]
    ideal = args.concurrency / (args.latency_ms / 1000)
    low = next(s for s in samples if s[1] >= args.tasks * 0.1)
    high = next(s for s in samples if s[1] >= args.tasks * 0.9)
    steady = (high[2] - low[2]) / (high[0] - low[0])
    bound = whole_run_bound(out / "run", args.concurrency, args.workers, args.latency_ms / 1000)
    return {"tasks": args.tasks, "accepted": summary["accepted"], "endpoint_calls": calls,
            "seconds": round(elapsed, 2), "calls_per_s": round(calls / elapsed, 1), "ideal_calls_per_s": ideal,
            "fraction_of_ideal": round(calls / elapsed / ideal, 3),
            "steady_calls_per_s": round(steady, 1), "steady_fraction_of_ideal": round(steady / ideal, 3),
            "whole_run_bound": round(bound, 3),
            "client_cpu_ms_per_call": round(cpu / calls * 1000, 3),
            "teacher_tokens_per_accepted_task": summary["teacher_tokens_per_accepted_task"]["total"]}


def whole_run_bound(run: Path, concurrency: int, workers: int, latency_s: float) -> float:
    """The whole-run fraction of ideal a client with no overhead would reach on these units."""
    calls: dict[int, int] = {}
    for path in (run / "state").glob("*/*.json"):
        state = json.loads(path.read_text(encoding="utf-8"))
        outcome = state.get("outcome") or {"status": "unfinished"}
        usage = state["stages"] if outcome["status"] != "discarded" else {
            stage: {"usage": roles} for stage, roles in outcome["rejection"]["usage"].items()}
        calls[state["index"]] = sum(role.get("calls", 0) for entry in usage.values()
                                    for role in entry.get("usage", {}).values())
    slots = [[0.0] * max(1, -(-concurrency // workers)) for _ in range(workers)]
    makespan = 0.0
    for index in sorted(calls):  # worker index % K pulls its units in order into its first free slot
        free = slots[index % workers]
        start = heapq.heappop(free)
        heapq.heappush(free, start + calls[index] * latency_s)
        makespan = max(makespan, start + calls[index] * latency_s)
    return sum(calls.values()) * latency_s / concurrency / makespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=1, help="local pipeline processes (synth llm --workers)")
    parser.add_argument("--no-cache", action="store_true", help="measure without the SQLite response cache")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fault-rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency_ms, args.fault_rate, args.seed)
        return
    process, base_url = start_server(args.latency_ms)
    try:
        server_cpu = process_cpu_s(process.pid)
        with tempfile.TemporaryDirectory() as tmp:
            figures = measure(base_url, args, Path(tmp))
        server_cpu = process_cpu_s(process.pid) - server_cpu
        figures["server_cpu_ms_per_call"] = round(server_cpu / int(figures["endpoint_calls"]) * 1000, 3)
    finally:
        process.terminate()
        process.wait(10)
    figures.update({"concurrency": args.concurrency, "latency_ms": args.latency_ms, "workers": args.workers,
                    "cache": not args.no_cache,
                    "server": "separate process", "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2)})
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
