"""Units through the engine with bounded concurrency, in whatever process runs them.

``concurrency`` workers pull units in persona order and run them through the stages; each unit makes one
model call at a time, so ``concurrency`` units keep up to ``concurrency`` calls in flight, the same bound
the client enforces. Thousands of units in flight cost little: a unit waiting on the endpoint is a
suspended coroutine.

Endpoint failures and the budget. A call that fails for good (retries exhausted) leaves its unit
unfinished instead of discarding it, so a rerun retries it; after ``max_unit_errors`` such units the run
stops early (the endpoint is likely down). A spent token budget stops the run cleanly.

Every back end (this event loop, a worker process, a Ray shard) runs :func:`work_through`; they differ
only in where it runs and how the outcomes reach the driver.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthagent.llm.client import BudgetExceeded, LLMCallError, LLMClient
from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.engine import Engine
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.outcome import Outcome


@dataclass
class RunState:
    """Why a run stopped early (None: it did not), and the units that failed on endpoint errors."""

    stopped: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def absorb(self, errors: list[dict[str, Any]], stopped: str | None) -> None:
        """Add what a worker or shard reports; the first reason to stop is kept."""
        self.errors.extend(errors)
        self.stopped = self.stopped or stopped


async def work_through(config: LLMConfig, out: Path, options: SynthOptions, units: list[Unit],
                       on_outcome: Callable[[Outcome, LLMClient], None], run_state: RunState,
                       on_session: Callable[[dict[str, Any]], None]) -> None:
    """Run ``units`` with a client made from ``config``; each outcome goes to ``on_outcome`` (with the
    client, whose usage is the live progress), and this session's figures to ``on_session`` however the
    run ends (finished, stopped, cancelled)."""
    client = LLMClient(config)
    started = time.perf_counter()
    try:
        await run_units(Engine(client, out, options), units, options.concurrency,
                        lambda outcome: on_outcome(outcome, client), run_state, options.max_unit_errors)
    finally:
        on_session(session_figures(client, time.perf_counter() - started))
        await client.aclose()


async def run_units(engine: Engine, units: list[Unit], concurrency: int, on_outcome: Callable[[Outcome], None],
                    run_state: RunState, max_unit_errors: int) -> None:
    """Process ``units`` with ``concurrency`` workers; outcomes go to ``on_outcome`` as they finish."""
    queue = iter(units)

    async def worker() -> None:
        for unit in queue:
            if run_state.stopped:
                return
            try:
                outcome = await engine.process(unit)
            except BudgetExceeded as exc:
                run_state.stopped = "budget"
                run_state.errors.append({"id": unit.id, "index": unit.index, "error": str(exc)})
                return
            except LLMCallError as exc:
                run_state.errors.append({"id": unit.id, "index": unit.index, "error": str(exc)})
                if len(run_state.errors) >= max_unit_errors:
                    run_state.stopped = "endpoint_errors"
                continue
            on_outcome(outcome)

    with collector_tuned_for_runs():
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(units))))))


GC_THRESHOLDS = (20_000, 20, 100)
_gc_saved: list[tuple[int, ...]] = []
"""One entry per run_units call now running in this process, each the thresholds found by the first."""


@contextmanager
def collector_tuned_for_runs() -> Iterator[None]:
    """Fewer cyclic-garbage collections while units run; the previous settings come back afterwards.

    A run allocates millions of short-lived containers (messages, replies, pydantic models) on top of a
    large heap that only grows (finished stages, trajectories, tool mappings, the dedup index). With
    CPython's default thresholds (700, 10, 10) the collector ran 1,400 times in a 1,024-task benchmark,
    full collections of the whole heap included: a quarter of the client's CPU, and pauses of 300 ms that
    hold back every call in flight. Objects that exist before the run are frozen (never scanned), and the
    young generation is collected every 20,000 allocations instead of every 700; almost all garbage is
    freed by reference counting anyway, so memory barely changes. The collector's settings are
    process-wide, so overlapping runs in one process share them and the last one to end restores them.
    """
    if not _gc_saved:
        gc.freeze()
        _gc_saved.append(gc.get_threshold())
        gc.set_threshold(*GC_THRESHOLDS)
    else:
        _gc_saved.append(_gc_saved[0])
    try:
        yield
    finally:
        previous = _gc_saved.pop()
        if not _gc_saved:
            gc.set_threshold(*previous)
            gc.unfreeze()


def session_figures(client: LLMClient, elapsed: float) -> dict[str, Any]:
    usage = client.usage
    calls = sum(c["calls"] for c in usage.values())
    return {"elapsed_s": round(elapsed, 3), "endpoint_calls": calls,
            "retries": sum(c["retries"] for c in usage.values()),
            "cache_hits": sum(c["cache_hits"] for c in usage.values()),
            "failures": sum(c["failures"] for c in usage.values()),
            "tokens_spent": client.tokens_spent,
            "calls_per_s": round(calls / elapsed, 1) if elapsed > 0 else 0.0,
            "usage_by_role": usage, "usage_by_stage": client.usage_by_stage}
