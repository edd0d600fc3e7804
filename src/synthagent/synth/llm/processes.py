"""``--workers K``: the asyncio pipeline in K local processes, committed by the parent in persona order.

One event loop can be CPU-bound before a fast endpoint is: the pipeline spends about half a millisecond of
CPU per model call (the client layer about a tenth of a millisecond of it), so at 256 calls in flight against
200 ms of latency (1,280 calls/s) one core has little to spare, and none when other work shares it.
Worker *i* runs the units with ``index % K == i`` through ``pipeline.run_units`` with its own LLM
client (a share of ``--concurrency`` and of any token budget) and sends each outcome to the parent through
a queue; the parent commits them with the same :class:`~synthagent.synth.llm.pipeline.Committer`, so the
files are the same as a one-process run's. The workers share the output folder: per-unit state files, the
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
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.personas import make_units
from synthagent.synth.llm.pipeline import (
    Committer,
    Engine,
    Outcome,
    Progress,
    RunState,
    SynthOptions,
    budget_share,
    build_summary,
    merge_sessions,
    run_units,
    session_figures,
    validate_roles,
)
from synthagent.synth.llm.state import atomic_write_json, check_manifest

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
    client = LLMClient(config)
    run_state = RunState()
    started = last = time.perf_counter()

    def on_outcome(outcome: Outcome) -> None:
        nonlocal last
        channel.put(("outcome", {"unit": outcome.unit.model_dump(), **outcome.to_json()}))
        if time.perf_counter() - last > USAGE_EVERY_S:
            last = time.perf_counter()
            channel.put(("usage", index, sum(c["calls"] for c in client.usage.values()), client.tokens_spent))

    try:
        await run_units(Engine(client, out, options), units, options.concurrency, on_outcome, run_state,
                        options.max_unit_errors)
    finally:
        session = session_figures(client, time.perf_counter() - started)
        await client.aclose()
        channel.put(("done", index, {"session": session, "errors": run_state.errors, "stopped": run_state.stopped}))


def run_processes(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
                  workers: int = 2, on_progress: Callable[[Progress], None] | None = None,
                  cache_path: Path | None = None) -> dict[str, Any]:
    """The pipeline in ``workers`` processes; returns the summary (also in ``out/summary.json``)."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    validate_roles(config)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, options.manifest(config))
    units = make_units(personas, options.n, options.seed)
    committer = Committer(out, units, options.dedup_threshold)
    todo = units[committer.next:]
    cache = cache_path or config.cache_path or out / "cache.sqlite"
    share = {"concurrency": max(1, math.ceil(options.concurrency / workers)), "cache_path": cache}
    share.update(budget_share(config, workers))
    worker_config = config.model_copy(update=share).model_dump(mode="json")
    worker_options = {**options.__dict__, "concurrency": share["concurrency"]}
    context = multiprocessing.get_context("spawn")  # no fork of a process that may run threads (rich, SQLite)
    channel = context.Queue()
    processes = {}
    for i in range(workers):
        shard = [u.model_dump() for u in todo if u.index % workers == i]
        if shard:
            processes[i] = context.Process(target=_worker, args=(i, worker_config, shard, str(out), worker_options,
                                                                channel), daemon=True, name=f"synth-worker-{i}")
    progress = Progress(total=len(units), finished=committer.next, accepted=committer.stats.accepted,
                        discarded=committer.stats.discarded)
    run_state = RunState()
    sessions: list[dict[str, Any]] = []
    usage: dict[int, tuple[int, int]] = {}
    running = set(processes)
    seen_dead: set[int] = set()
    started = time.perf_counter()
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
                        run_state.stopped = run_state.stopped or "worker_died"
                        run_state.errors.append({"id": None, "index": None,
                                                 "error": f"worker {i} exited with code {processes[i].exitcode}"})
                    elif not processes[i].is_alive():
                        seen_dead.add(i)
                continue
            if message[0] == "outcome":
                data = message[1]
                committer.offer(Outcome.from_json(Unit.model_validate(data["unit"]), data))
                progress.finished += 1
            elif message[0] == "usage":
                usage[message[1]] = (message[2], message[3])
            elif message[0] == "done":
                running.discard(message[1])
                result = message[2]
                sessions.append(result["session"])
                usage[message[1]] = (result["session"]["endpoint_calls"], result["session"]["tokens_spent"])
                run_state.errors.extend(result["errors"])
                run_state.stopped = run_state.stopped or result["stopped"]
            if on_progress is not None:
                progress.accepted, progress.discarded = committer.stats.accepted, committer.stats.discarded
                progress.errors = len(run_state.errors)
                progress.calls = sum(c for c, _ in usage.values())
                progress.tokens = sum(t for _, t in usage.values())
                on_progress(progress)
    except KeyboardInterrupt:
        run_state.stopped = "interrupted"
        raise
    finally:
        for process in processes.values():
            process.join(timeout=5 if run_state.stopped != "interrupted" else 1)
            if process.is_alive():
                process.terminate()
                process.join(5)
        committer.close()
        summary = build_summary(out, units, committer, run_state, options, config,
                                merge_sessions(sessions, time.perf_counter() - started))
        summary["backend"] = {"name": "processes", "workers": workers}
        atomic_write_json(out / "summary.json", summary)
    return summary
