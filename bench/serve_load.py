"""Load test of the environment server on 127.0.0.1: throughput, step latency, errors, and memory over 10k sessions.

Part 1: 256 concurrent sessions, each 16 steps on procedural tasks (the random reference policy's messages, so
tool calls and user turns are both exercised; a session that ends early starts another to keep 16 steps),
from one asyncio client. Part 2: 10,000 sessions opened, stepped once and closed; the server's RSS is read
from /proc at the start, after 5,000 and after 10,000. The server runs in its own process (`synthagent serve`),
so the client's work is not counted in its memory. Prints figures; asserts nothing about speed.

    python bench/serve_load.py [--sessions 256] [--steps 16] [--memory-sessions 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthagent.integrations.server.client import AsyncServeClient, ServeClient
from synthagent.integrations.server.drive import policy_act
from synthagent.sim.reference import reference_policy
from synthagent.spec.io import write_jsonl
from synthagent.worlds import Knobs, domain_names, generate_task, get_domain

CLI = "from synthagent.cli import app; app()"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(tasks: Path, port: int, max_sessions: int) -> subprocess.Popen:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--tasks", str(tasks), "--port", str(port),
                             "--max-sessions", str(max_sessions), "--max-turns", "64"], env=env)
    client, deadline = ServeClient(f"http://127.0.0.1:{port}", timeout=5), time.time() + 60
    while time.time() < deadline:
        try:
            client.tasks(limit=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


async def one_session(client: AsyncServeClient, tasks: list, index: int, steps: int, latencies: list[float],
                      errors: list[str]) -> None:
    done_steps, round_ = 0, 0
    while done_steps < steps:
        task = tasks[(index + round_ * 7919) % len(tasks)]
        seed = index * 1000 + round_
        act = policy_act(reference_policy("random"), task, seed)
        try:
            opened = await client.start(task.id, seed=seed)
            messages, turn, finished = list(opened.messages), 0, False
            while not finished and done_steps < steps:
                reply = act(messages, opened.tools)
                t0 = time.perf_counter()
                out = await client.step(opened.session_id, reply, turn)
                latencies.append(time.perf_counter() - t0)
                messages += [reply, *out.observations]
                turn, done_steps, finished = turn + 1, done_steps + 1, out.done
            if finished:
                await client.score(opened.session_id)
            await client.close(opened.session_id)
        except Exception as err:  # counted, never hidden
            errors.append(f"{type(err).__name__}: {err}")
            return
        round_ += 1


async def load(url: str, tasks: list, sessions: int, steps: int) -> None:
    client = AsyncServeClient(url)
    latencies: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(one_session(client, tasks, i, steps, latencies, errors) for i in range(sessions)))
    wall = time.perf_counter() - t0
    await client.aclose()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    print(f"load: {sessions} concurrent sessions x {steps} steps = {len(latencies)} steps in {wall:.2f} s: "
          f"{len(latencies) / wall:.0f} steps/s; step latency p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms; "
          f"errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


async def memory(url: str, pid: int, tasks: list, total: int) -> None:
    client = AsyncServeClient(url)
    marks = {0: rss_mb(pid)}
    gate = asyncio.Semaphore(64)
    errors: list[str] = []

    async def cycle(i: int) -> None:
        task = tasks[i % len(tasks)]
        async with gate:
            try:
                opened = await client.start(task.id, seed=i)
                await client.step(opened.session_id, {"role": "assistant", "content": "What do you need?"}, 0)
                await client.close(opened.session_id)
            except Exception as err:
                errors.append(f"{type(err).__name__}: {err}")

    half = total // 2
    t0 = time.perf_counter()
    await asyncio.gather(*(cycle(i) for i in range(half)))
    marks[half] = rss_mb(pid)
    await asyncio.gather(*(cycle(i) for i in range(half, total)))
    marks[total] = rss_mb(pid)
    wall = time.perf_counter() - t0
    await client.aclose()
    print("memory: server RSS " + ", ".join(f"{n} sessions {mb:.1f} MB" for n, mb in marks.items())
          + f"; {total / wall:.0f} sessions/s; errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=256)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--memory-sessions", type=int, default=10_000)
    ap.add_argument("--tasks", type=int, default=120, help="procedural tasks served")
    args = ap.parse_args()
    names = domain_names()
    tasks = [generate_task(get_domain(names[i % len(names)]), i, Knobs.for_difficulty(1 + i % 5), 1 + i % 5)
             for i in range(args.tasks)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        write_jsonl(path, tasks)
        port = free_port()
        proc = spawn(path, port, max_sessions=max(1024, args.sessions * 2))
        try:
            url = f"http://127.0.0.1:{port}"
            print(f"server pid {proc.pid}, {len(tasks)} procedural tasks, RSS {rss_mb(proc.pid):.1f} MB")
            asyncio.run(load(url, tasks, args.sessions, args.steps))
            asyncio.run(memory(url, proc.pid, tasks, args.memory_sessions))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
