"""``--workers K``: the asyncio pipeline in K local processes, committed by the parent in persona order.

One event loop can be CPU-bound before a fast endpoint is: the pipeline spends about half a millisecond of
CPU per model call (the client layer about a tenth of a millisecond of it), so at 256 calls in flight against
200 ms of latency (1,280 calls/s) one core has little to spare, and none when other work shares it.
Worker *i* runs the units with ``index % K == i`` through ``unit_runner.work_through`` with its own LLM
client (a share of ``--concurrency`` and of any token budget) and sends each outcome to the parent through
a queue; the parent is the driver (``driver.py``) and commits them in persona order, so the files are the
same as a one-process run's. The workers share the output folder: per-unit state files, the
per-task tool mappings (file-locked) and the SQLite cache (WAL mode) are all safe across processes.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import threading
import time
from pathlib import Path
from typing import Any, Callable

from synthagent.llm.client import LLMClient
from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.driver import Progress, SynthRun, budget_share, synthesis_run
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.outcome import Outcome
from synthagent.synth.llm.unit_runner import RunState, work_through

USAGE_EVERY_S = 0.25


def _exit_with_parent() -> None:
    """A worker whose parent died (SIGKILL) stops at once instead of racing the parent's next session."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker(index: int, config_json: dict[str, Any], units_json: list[dict[str, Any]], out: str,
            options_json: dict[str, Any], channel: Any) -> None:
    _exit_with_parent()
    try:
        asyncio.run(_work(index, LLMConfig.model_validate(config_json), [Unit.model_validate(u) for u in units_json],
                          Path(out), SynthOptions(**options_json), channel))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        pass


async def _work(index: int, config: LLMConfig, units: list[Unit], out: Path, options: SynthOptions,
                channel: Any) -> None:
    run_state = RunState()
    last = time.perf_counter()

    def on_outcome(outcome: Outcome, client: LLMClient) -> None:
        nonlocal last
        channel.put(("outcome", outcome.to_message()))
        if time.perf_counter() - last > USAGE_EVERY_S:
            last = time.perf_counter()
            channel.put(("usage", index, sum(c["calls"] for c in client.usage.values()), client.tokens_spent))

    def on_session(session: dict[str, Any]) -> None:
        channel.put(("done", index, {"session": session, "errors": run_state.errors, "stopped": run_state.stopped}))

    await work_through(config, out, options, units, on_outcome, run_state, on_session)


def run_processes(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
                  workers: int = 2, on_progress: Callable[[Progress], None] | None = None,
                  cache_path: Path | None = None) -> dict[str, Any]:
    """The pipeline in ``workers`` processes; returns the summary (also in ``out/summary.json``)."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    with synthesis_run(config, personas, out, options, on_progress) as run:
        run.backend = {"name": "processes", "workers": workers}
        _run_workers(run, workers, cache_path or config.cache_path or out / "cache.sqlite")
    return run.summary


def _run_workers(run: SynthRun, workers: int, cache: Path) -> None:
    """Start the workers, feed what they send to the driver, and see every one of them end."""
    options = run.options
    share = {"concurrency": max(1, math.ceil(options.concurrency / workers)), "cache_path": cache}
    share.update(budget_share(run.config, workers))
    worker_config = run.config.model_copy(update=share).model_dump(mode="json")
    worker_options = {**options.__dict__, "concurrency": share["concurrency"]}
    context = multiprocessing.get_context("spawn")  # no fork of a process that may run threads (rich, SQLite)
    channel = context.Queue()
    processes = {}
    for i in range(workers):
        shard = [u.model_dump() for u in run.todo if u.index % workers == i]
        if shard:
            processes[i] = context.Process(target=_worker, args=(i, worker_config, shard, str(run.out),
                                                                worker_options, channel),
                                           daemon=True, name=f"synth-worker-{i}")
    running = set(processes)
    seen_dead: set[int] = set()
    for process in processes.values():
        process.start()
    try:
        while running:
            try:
                message = channel.get(timeout=0.5)
            except queue_module.Empty:
                # A worker that exits right after its last messages may look dead while those messages are
                # still unread, so a worker only counts as gone once a whole empty wait has passed after it
                # was first seen dead (by then everything it flushed before exiting has been read).
                for i in sorted(running):
                    if i in seen_dead:  # died without saying goodbye (killed, crashed)
                        running.discard(i)
                        run.run_state.absorb([{"id": None, "index": None, "error": f"worker {i} exited with code "
                                                                                   f"{processes[i].exitcode}"}],
                                             "worker_died")
                    elif not processes[i].is_alive():
                        seen_dead.add(i)
                continue
            if message[0] == "outcome":
                run.offer(Outcome.from_message(message[1]))
                continue
            if message[0] == "usage":
                run.usage(message[1], message[2], message[3])
            elif message[0] == "done":
                running.discard(message[1])
                result = message[2]
                run.add_session(result["session"], message[1])
                run.run_state.absorb(result["errors"], result["stopped"])
            run.report()
    except KeyboardInterrupt:
        run.run_state.stopped = "interrupted"
        raise
    finally:
        for process in processes.values():
            process.join(timeout=5 if run.run_state.stopped != "interrupted" else 1)
            if process.is_alive():
                process.terminate()
                process.join(5)
