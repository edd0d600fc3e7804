"""Synthesis in this process's event loop (the default back end), and :func:`synthesize`, which picks one.

personas → stages A–F → ``tasks.jsonl`` / ``rejected.jsonl`` / ``summary.json``. The driver
(``driver.py``) does set-up, progress and wrap-up for every back end; here the units run on this event loop
(``unit_runner.py``), each outcome going straight to the driver's committer.

Resumability. Every unit has a deterministic id (sha256 of persona and seed) and a state file updated
atomically after each stage (``state.py``); model calls go through the SQLite cache (by default
``DIR/cache.sqlite``). After a crash, SIGKILL or Ctrl-C the same command continues: finished stages are
read back, the interrupted stage is replayed from the cache, and nothing is done or written twice
(``committer.py`` says why the files are then the same as an uninterrupted run's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from synthagent.llm.client import LLMClient
from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.driver import Progress, synthesis_run
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.outcome import Outcome
from synthagent.synth.llm.unit_runner import work_through


async def run_pipeline(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
                       on_progress: Callable[[Progress], None] | None = None,
                       cache_path: Path | Literal[False] | None = None) -> dict[str, Any]:
    """Synthesize tasks from ``personas`` into ``out``; resumes whatever ``out`` already holds.

    Returns the summary (also written to ``out/summary.json``). ``cache_path`` overrides the LLM cache
    location (``False``: no cache); without it the config's ``cache_path`` is used, else
    ``out/cache.sqlite``. Without a cache, a resumed run still skips every finished stage (state files),
    but replays the calls of an interrupted stage against the endpoint.
    """
    with synthesis_run(config, personas, out, options, on_progress) as run:
        cache = None if cache_path is False else (cache_path or config.cache_path or out / "cache.sqlite")

        def on_outcome(outcome: Outcome, client: LLMClient) -> None:
            run.usage("client", sum(c["calls"] for c in client.usage.values()), client.tokens_spent)
            run.offer(outcome)

        await work_through(config.model_copy(update={"concurrency": options.concurrency, "cache_path": cache}),
                           out, options, run.todo, on_outcome, run.run_state, run.add_session)
    return run.summary


def synthesize(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
               workers: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Blocking entry point: :func:`run_pipeline` in this process, or ``workers`` local processes
    (:func:`synthagent.synth.llm.processes.run_processes`)."""
    if workers > 1:
        from synthagent.synth.llm.processes import run_processes

        return run_processes(config, personas, out, options, workers=workers, **kwargs)
    return asyncio.run(run_pipeline(config, personas, out, options, **kwargs))
