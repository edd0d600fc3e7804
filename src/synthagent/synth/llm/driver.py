"""The one synthesis driver: set-up, progress and wrap-up, whatever back end processes the units.

Every back end (``pipeline.run_pipeline``: this event loop; ``processes.run_processes``: local worker
processes; ``ray_backend.run_ray``: Ray shards) is a small strategy that runs inside :func:`synthesis_run`.
The driver

- sets up: checks the roles, writes or checks ``run.json``, lists the units (persona, seed) and opens the
  :class:`~synthagent.synth.llm.committer.Committer`, which reads back what an earlier session committed;
- hands the back end a :class:`SynthRun`: the units still to do, and the calls through which finished
  outcomes (committed in persona order), live usage, session figures and endpoint errors come back;
- wraps up, however the run ends (finished, stopped early, interrupted): closes the output files and
  writes ``summary.json``.

Because the committer is the driver's, the files are the same whichever back end produced the outcomes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.committer import Committer
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.options import SynthOptions, validate_roles
from synthagent.synth.llm.outcome import Outcome
from synthagent.synth.llm.personas import make_units
from synthagent.synth.llm.state import atomic_write_json, check_manifest
from synthagent.synth.llm.summary import build_summary, merge_sessions
from synthagent.synth.llm.unit_runner import RunState


@dataclass
class Progress:
    """What the progress callback sees after every committed outcome."""

    total: int
    finished: int = 0
    accepted: int = 0
    discarded: int = 0
    errors: int = 0
    tokens: int = 0
    calls: int = 0


@dataclass
class SynthRun:
    """One session of a run, as a back end sees it: what to do, and where results go."""

    config: LLMConfig
    out: Path
    options: SynthOptions
    units: list[Unit]
    committer: Committer
    on_progress: Callable[[Progress], None] | None = None
    run_state: RunState = field(default_factory=RunState)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    backend: dict[str, Any] | None = None
    """What ``summary.json`` says about the back end (None: the default, asyncio in this process)."""
    summary: dict[str, Any] = field(default_factory=dict)
    """``summary.json``, once the run has ended."""
    _usage: dict[Hashable, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.progress = Progress(total=len(self.units), finished=self.committer.next)

    @property
    def todo(self) -> list[Unit]:
        """The units no earlier session committed, in persona order."""
        return self.units[self.committer.next:]

    def offer(self, outcome: Outcome) -> None:
        """A finished unit: committed once every earlier unit is."""
        self.committer.offer(outcome)
        self.progress.finished += 1
        self.report()

    def usage(self, source: Hashable, calls: int, tokens: int) -> None:
        """The live endpoint calls and tokens of one client (a worker's, a shard's), for the progress line."""
        self._usage[source] = (calls, tokens)

    def add_session(self, session: dict[str, Any], source: Hashable | None = None) -> None:
        """A client's final session figures (``unit_runner.session_figures``)."""
        self.sessions.append(session)
        if source is not None:
            self.usage(source, session["endpoint_calls"], session["tokens_spent"])

    def report(self) -> None:
        if self.on_progress is None:
            return
        stats, progress = self.committer.stats, self.progress
        progress.accepted, progress.discarded = stats.accepted, stats.discarded
        progress.errors = len(self.run_state.errors)
        progress.calls = sum(calls for calls, _ in self._usage.values())
        progress.tokens = sum(tokens for _, tokens in self._usage.values())
        self.on_progress(progress)


@contextmanager
def synthesis_run(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions,
                  on_progress: Callable[[Progress], None] | None = None) -> Iterator[SynthRun]:
    """Set up a run of ``personas`` into ``out`` (resuming whatever it holds), let the back end work on the
    yielded :class:`SynthRun`, and write ``summary.json`` however it ends; the summary is then ``run.summary``."""
    validate_roles(config)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, options.manifest(config))
    units = make_units(personas, options.n, options.seed)
    run = SynthRun(config, out, options, units, Committer(out, units, options.dedup_threshold), on_progress)
    run.report()
    started = time.perf_counter()
    try:
        yield run
    except (KeyboardInterrupt, asyncio.CancelledError):
        run.run_state.stopped = "interrupted"
        raise
    finally:
        run.committer.close()
        summary = build_summary(out, units, run.committer, run.run_state, options, config,
                                merge_sessions(run.sessions, time.perf_counter() - started))
        if run.backend is not None:
            summary["backend"] = run.backend
        atomic_write_json(out / "summary.json", summary)
        run.summary = summary


def budget_share(config: LLMConfig, parts: int) -> dict[str, int]:
    """The config update that gives each of ``parts`` workers or shards its even share of the token budget
    (none when the run has no budget), so several processes together spend no more than one would."""
    if config.token_budget is None:
        return {}
    return {"token_budget": max(1, config.token_budget // parts)}
