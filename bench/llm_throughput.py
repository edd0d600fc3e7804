"""Throughput of the LLM client layer against the fake server with injected latency.

With every request taking ``latency`` seconds at the server and ``concurrency`` requests in flight, the
ideal rate is concurrency ÷ latency; the figure reported is the achieved fraction of it (target ≥ 0.90 at
256 × 200 ms), over the whole run (ramp-up and drain included) and in steady state (the completions
between the first and the last ``concurrency`` ones). Whatever falls short is client overhead: the SDK,
the HTTP pool, our semaphore, accounting
and cache lookups. The server runs in its own process by default, as a real endpoint would, so the
client's event loop is measured rather than the two sharing one interpreter.

    python bench/llm_throughput.py [--requests 2048] [--concurrency 256] [--latency-ms 200] [--in-process]
                                   [--cache]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeOpenAIServer  # noqa: E402

from synthagent.llm import LLMClient, LLMConfig  # noqa: E402


async def _drive(base_url: str, requests: int, concurrency: int, cache_path: Path | None,
                 warmup: int) -> tuple[float, list[float], dict[str, dict[str, int]], float]:
    config = LLMConfig.for_endpoint(base_url, "bench-model", concurrency=concurrency, max_retries=2,
                                    timeout_s=30.0, cache_path=cache_path)
    done: list[float] = []
    async with LLMClient(config) as client:
        async def one(i: int, prefix: str) -> None:
            await client.chat("teacher", [{"role": "user", "content": f"{prefix} request {i}"}])
            done.append(time.perf_counter())

        await asyncio.gather(*(one(i, "warmup") for i in range(warmup)))  # open the connection pool
        done.clear()
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i, "timed") for i in range(requests)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return elapsed, done, client.usage, cpu


def _run(base_url: str, args: argparse.Namespace, cache_path: Path | None) -> dict[str, float]:
    elapsed, done, usage, cpu = asyncio.run(_drive(base_url, args.requests, args.concurrency, cache_path,
                                                   warmup=args.concurrency))
    ideal = args.concurrency / (args.latency_ms / 1000)
    rate = args.requests / elapsed
    figures = {"seconds": round(elapsed, 3), "requests_per_s": round(rate, 1), "ideal_per_s": round(ideal, 1),
               "fraction_of_ideal": round(rate / ideal, 3)}
    edge = args.concurrency
    if args.requests > 2 * edge:
        steady = (args.requests - 2 * edge) / (done[-edge - 1] - done[edge - 1])
        figures["steady_fraction_of_ideal"] = round(steady / ideal, 3)
    figures["client_cpu_ms_per_request"] = round(cpu / args.requests * 1000, 3)
    figures["calls"] = usage.get("teacher", {}).get("calls", 0)
    figures["retries"] = usage.get("teacher", {}).get("retries", 0)
    return figures


def _cached_runs(base_url: str, args: argparse.Namespace) -> dict[str, object]:
    """The same sweep with a cold SQLite cache (the cost of writing it), then again warm (zero calls)."""
    with tempfile.TemporaryDirectory() as tmp:
        cold = _run(base_url, args, Path(tmp) / "cache.sqlite")
        warm = _run(base_url, args, Path(tmp) / "cache.sqlite")
    return {"cold_cache": cold, "warm_cache": {"seconds": warm["seconds"], "calls": warm["calls"],
                                               "requests_per_s": warm["requests_per_s"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--in-process", action="store_true", help="server on a thread of this process")
    parser.add_argument("--cache", action="store_true", help="also measure with the SQLite cache enabled")
    args = parser.parse_args()

    figures: dict[str, object] = {"requests": args.requests, "concurrency": args.concurrency,
                                  "latency_ms": args.latency_ms}
    if args.in_process:
        with FakeOpenAIServer(latency_s=args.latency_ms / 1000, keep_requests=False) as server:
            figures["no_cache"] = _run(server.base_url, args, None)
            if args.cache:
                figures.update(_cached_runs(server.base_url, args))
    else:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fakeserver.py"), "--latency-ms", str(args.latency_ms)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().split()[1])
            base_url = f"http://127.0.0.1:{port}/v1"
            figures["no_cache"] = _run(base_url, args, None)
            if args.cache:
                figures.update(_cached_runs(base_url, args))
        finally:
            process.terminate()
            process.wait(10)
    figures["server"] = "in-process thread" if args.in_process else "separate process"
    figures["cpus"] = os.cpu_count()
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
