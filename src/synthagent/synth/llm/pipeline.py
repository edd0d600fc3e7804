"""Orchestration: personas → stages A–F → ``tasks.jsonl`` / ``rejected.jsonl`` / ``summary.json``.

Concurrency. ``concurrency`` workers pull units (persona, seed) in persona order and run them through the
stages; each unit makes one model call at a time, so ``concurrency`` units keep up to ``concurrency`` calls
in flight, the same bound the client enforces. Thousands of units in flight cost little: a unit waiting on
the endpoint is a suspended coroutine.

Resumability. Every unit has a deterministic id (sha256 of persona and seed) and a state file updated
atomically after each stage (``state.py``); model calls go through the SQLite cache (by default
``DIR/cache.sqlite``). After a crash, SIGKILL or Ctrl-C the same command continues: finished stages are
read back, the interrupted stage is replayed from the cache, and nothing is done or written twice.

Determinism of the accepted set. Units finish in any order, but they are *committed* strictly in persona
order by :class:`Committer`: the near-duplicate gate compares a task only with tasks accepted before it in
that order, and the output files are appended in that order. An interrupted and resumed run therefore
writes the same ``tasks.jsonl`` and ``rejected.jsonl`` as an uninterrupted one, line for line; the id of
every committed unit is read back on resume, so none is written twice.

Endpoint failures and the budget. A call that fails for good (retries exhausted) leaves its unit
unfinished instead of discarding it, so a rerun retries it; after ``max_unit_errors`` such units the run
stops early (the endpoint is likely down). A spent token budget stops the run cleanly. Either way the
summary says so and a rerun resumes.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from synthagent.llm.client import BudgetExceeded, LLMCallError, LLMClient
from synthagent.llm.config import LLMConfig
from synthagent.spec.io import JsonlAppender, iter_jsonl
from synthagent.spec.models import Source, Task, Trajectory
from synthagent.synth.llm.common import PROMPT_VERSIONS, STAGE_LABELS, StageRejected, UnitMeter
from synthagent.synth.llm.dedup import NearDupIndex
from synthagent.synth.llm.models import (
    STAGE_NAMES,
    STAGES,
    Rewrite,
    RubricDraft,
    SynthRejection,
    TaskDesign,
    ToolCheck,
    Unit,
)
from synthagent.synth.llm.personas import make_units
from synthagent.synth.llm.stage_a import design_task
from synthagent.synth.llm.stage_b import underspecify
from synthagent.synth.llm.stage_c import check_tools
from synthagent.synth.llm.stage_d import DEFAULT_MAX_TURNS, DEFAULT_RUNS, TOOL_CONTEXT_CAP, solve, summarize_run
from synthagent.synth.llm.stage_e import build_rubric, gold_from_run, write_rubric
from synthagent.synth.llm.stage_f import dedup_text, gate
from synthagent.synth.llm.state import UnitState, atomic_write_json, check_manifest

GENERATOR = "synthagent.synth.llm"
REQUIRED_ROLES = ("teacher", "user", "tool")
T = TypeVar("T")


@dataclass(frozen=True)
class SynthOptions:
    n: int | None = None
    seed: int = 0
    concurrency: int = 64
    runs: int = DEFAULT_RUNS
    max_turns: int = DEFAULT_MAX_TURNS
    dedup_threshold: float = 0.8
    tool_cap: int = TOOL_CONTEXT_CAP
    max_unit_errors: int = 50

    def manifest(self, config: LLMConfig) -> dict[str, Any]:
        """The settings that decide results: a rerun must use the same ones (``n`` may grow)."""
        return {"format": 1, "seed": self.seed, "runs": self.runs, "max_turns": self.max_turns,
                "dedup_threshold": self.dedup_threshold, "tool_cap": self.tool_cap, "prompts": PROMPT_VERSIONS,
                "models": {role: config.role(role).model for role in REQUIRED_ROLES}}


# --------------------------------------------------------------------------------------------- outcome


@dataclass
class Outcome:
    """A finished unit: a candidate task (passed A–F's per-task checks) or a rejection."""

    unit: Unit
    task: Task | None = None
    rejection: SynthRejection | None = None

    def to_json(self) -> dict[str, Any]:
        if self.task is not None:
            return {"status": "candidate", "task": self.task.model_dump(mode="json")}
        assert self.rejection is not None
        return {"status": "discarded", "rejection": self.rejection.model_dump(mode="json")}

    @classmethod
    def from_json(cls, unit: Unit, data: dict[str, Any]) -> "Outcome":
        if data["status"] == "candidate":
            return cls(unit, task=Task.model_validate(data["task"]))
        return cls(unit, rejection=SynthRejection.model_validate(data["rejection"]))


def _rejection(unit: Unit, stage: str, kind: str, reason: str, *, attempts: list[str] | None = None,
               domain: str | None = None, usage: dict[str, Any] | None = None,
               repairs: list[dict[str, str]] | None = None) -> SynthRejection:
    return SynthRejection(id=unit.id, index=unit.index, persona=unit.persona, seed=unit.seed, stage=stage,
                          stage_name=STAGE_NAMES[stage], kind=kind, reason=reason, attempts=attempts or [],
                          domain=domain, usage=usage or {}, repairs=repairs or [])


# ---------------------------------------------------------------------------------------------- engine


class Engine:
    """Runs one unit through the stages, reading finished stages from and saving each new one to disk."""

    def __init__(self, client: LLMClient, out: Path, options: SynthOptions) -> None:
        self.client = client
        self.options = options
        self.state_dir = out / "state"
        self.mocks_dir = out / "mocks"
        self.teacher_model = client.config.role("teacher").model

    async def _stage(self, state: UnitState, stage: str, run: Callable[[Any], Awaitable[T]],
                     load: Callable[[Any], T], dump: Callable[[T], Any]) -> T:
        stored = state.output(stage)
        if stored is not None:
            return load(stored)
        meter = UnitMeter(self.client)
        try:
            value = await run(meter)
        except StageRejected as rejected:
            rejected.usage = meter.snapshot()
            raise
        await state.commit(stage, dump(value), meter.snapshot())
        return value

    async def process(self, unit: Unit) -> Outcome:
        state = UnitState.load(self.state_dir, unit)
        if state.outcome is not None:
            return Outcome.from_json(unit, state.outcome)
        repairs = state.repairs
        domain: str | None = None
        stage = "A"
        try:
            design = await self._stage(state, "A", lambda c: design_task(c, unit, repairs),
                                       TaskDesign.model_validate, lambda v: v.model_dump(mode="json"))
            domain = design.domain
            stage = "B"
            rewrite = await self._stage(state, "B", lambda c: underspecify(c, unit, design, repairs),
                                        Rewrite.model_validate, lambda v: v.model_dump(mode="json"))
            stage = "C"
            checked = await self._stage(state, "C", lambda c: check_tools(c, unit, design, rewrite, repairs),
                                        ToolCheck.model_validate, lambda v: v.model_dump(mode="json"))
            task = assemble_task(unit, design, rewrite, checked, self.teacher_model)
            stage = "D"
            runs = await self._stage(
                state, "D", lambda c: solve(c, task, runs=self.options.runs, max_turns=self.options.max_turns,
                                            mocks_dir=self.mocks_dir, tool_cap=self.options.tool_cap),
                lambda v: [Trajectory.model_validate(t) for t in v["runs"]],
                lambda v: {"runs": [t.model_dump(mode="json") for t in v]})
            stage = "E"
            draft = await self._stage(state, "E", lambda c: _draft(c, unit, task, design, runs, repairs),
                                      RubricDraft.model_validate, lambda v: v.model_dump(mode="json"))
            finish_task(task, draft, design, runs, state)
            stage = "F"
            outcome = Outcome(unit, task=gate(task))
        except StageRejected as rejected:
            usage = state.usage()
            if rejected.usage:
                usage[rejected.stage] = rejected.usage
            outcome = Outcome(unit, rejection=_rejection(
                unit, rejected.stage, rejected.kind, rejected.reason, attempts=rejected.attempts, domain=domain,
                usage=usage, repairs=repairs))
        except (LLMCallError, BudgetExceeded):
            raise
        except Exception as exc:  # a reply our code did not foresee: recorded, never fatal to the run
            outcome = Outcome(unit, rejection=_rejection(
                unit, stage, "internal", f"{type(exc).__name__}: {exc}", domain=domain, usage=state.usage(),
                repairs=repairs))
        await state.finish(outcome.to_json())
        return outcome


async def _draft(client: Any, unit: Unit, task: Task, design: TaskDesign, runs: list[Trajectory],
                 repairs: list[dict[str, str]]) -> RubricDraft:
    draft, _, _ = await write_rubric(client, unit, task, design, runs, repairs)
    return draft


def assemble_task(unit: Unit, design: TaskDesign, rewrite: Rewrite, checked: ToolCheck, teacher_model: str) -> Task:
    """The task as stages A–C define it; stage E adds the rubric and the gold plan."""
    slots = [slot.private_slot() for slot in rewrite.ledger]
    required = sum(slot.required for slot in slots)
    return Task(
        id=unit.id, domain=design.domain, instruction=rewrite.instruction, full_instruction=design.task,
        tools=checked.specs(), policy=[design.restriction], private_info=slots, user_background=rewrite.background,
        workflow=design.workflow, difficulty=max(1, min(5, required + int(len(design.workflow) >= 7))),
        source=Source(generator=GENERATOR, seed=unit.seed,
                      params={"persona": unit.persona, "index": unit.index, "prompts": dict(PROMPT_VERSIONS),
                              "teacher": teacher_model}),
        metadata={"index": unit.index, "persona": unit.persona, "restricted_tool": design.restricted_tool,
                  "removed_tools": [r.model_dump(mode="json") for r in checked.removed]})


def finish_task(task: Task, draft: RubricDraft, design: TaskDesign, runs: list[Trajectory], state: UnitState) -> None:
    assert draft.best_run is not None
    task.rubric = build_rubric(draft, design)
    task.gold = gold_from_run(runs[draft.best_run - 1], task.private_info)
    task.metadata["alignment"] = {"verdict": draft.verdict, "reason": draft.reason, "best_run": draft.best_run}
    task.metadata["teacher_runs"] = [summarize_run(t).model_dump() for t in runs]
    task.metadata["synthesis"] = {"usage": state.usage(), "repairs": list(state.repairs)}


# ------------------------------------------------------------------------------------------- committer


@dataclass
class CommitStats:
    accepted: int = 0
    discarded: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    kinds: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    repairs: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: {"prompt": 0, "completion": 0, "calls": 0})))

    def count(self, usage: dict[str, Any], repairs: list[dict[str, str]]) -> None:
        for stage, roles in usage.items():
            for role, counts in roles.items():
                bucket = self.tokens[stage][role]
                for key in bucket:
                    bucket[key] += int(counts.get(key, 0))
        for repair in repairs:
            self.repairs[repair.get("stage", "?")] += 1

    def accept(self, task: Task) -> None:
        self.accepted += 1
        synthesis = task.metadata.get("synthesis", {})
        self.count(synthesis.get("usage", {}), synthesis.get("repairs", []))

    def reject(self, rejection: SynthRejection) -> None:
        self.discarded += 1
        self.by_stage[rejection.stage] += 1
        self.kinds[rejection.stage][rejection.kind] += 1
        self.count(rejection.usage, rejection.repairs)


class Committer:
    """Commits finished units strictly in persona order: near-duplicate gate, then one appended line."""

    def __init__(self, out: Path, units: list[Unit], threshold: float) -> None:
        self.units = units
        self.tasks_path = out / "tasks.jsonl"
        self.rejected_path = out / "rejected.jsonl"
        self.index = NearDupIndex(threshold)
        self.stats = CommitStats()
        self._tasks = JsonlAppender(self.tasks_path)  # opening cuts a line torn by a crash
        self._rejected = JsonlAppender(self.rejected_path)
        committed: set[str] = set()
        for task in iter_jsonl(self.tasks_path, Task):
            if task.id in committed:
                raise ValueError(f"{self.tasks_path}: task id {task.id} appears twice")
            committed.add(task.id)
            self.index.add(task.id, dedup_text(task))
            self.stats.accept(task)
        for rejection in iter_jsonl(self.rejected_path, SynthRejection):
            if rejection.id in committed:
                raise ValueError(f"{self.rejected_path}: id {rejection.id} is already committed")
            committed.add(rejection.id)
            self.stats.reject(rejection)
        self.next = len(committed)
        if self.next > len(units):
            raise ValueError(f"{out} already holds {self.next} results; ask for at least --n {self.next}")
        expected = {u.id for u in units[: self.next]}
        if committed != expected:
            stray = sorted(committed - expected)[:3]
            raise ValueError(f"{out} holds results for other personas or seeds (e.g. id {stray[0]}); resume with "
                             "the same --personas and --seed, or use a new --out")
        self.pending: dict[int, Outcome] = {}

    @property
    def done(self) -> bool:
        return self.next >= len(self.units)

    def offer(self, outcome: Outcome) -> int:
        """Hold ``outcome`` until every earlier unit is committed; returns how many units were committed."""
        index = outcome.unit.index
        if index < self.next:
            return 0  # committed by an earlier session
        self.pending[index] = outcome
        committed = 0
        while self.next in self.pending:
            self._commit(self.pending.pop(self.next))
            self.next += 1
            committed += 1
        return committed

    def _commit(self, outcome: Outcome) -> None:
        task = outcome.task
        if task is None:
            assert outcome.rejection is not None
            self._rejected.write(outcome.rejection)
            self.stats.reject(outcome.rejection)
            return
        duplicate = self.index.check_and_add(task.id, dedup_text(task))
        if duplicate is None:
            self._tasks.write(task)
            self.stats.accept(task)
            return
        synthesis = task.metadata.get("synthesis", {})
        rejection = _rejection(outcome.unit, "F", "near_duplicate",
                               f"near-duplicate of task {duplicate.of} (Jaccard {duplicate.similarity:.2f} over "
                               "instruction and tool n-grams)", domain=task.domain,
                               usage=synthesis.get("usage", {}), repairs=synthesis.get("repairs", []))
        self._rejected.write(rejection)
        self.stats.reject(rejection)

    def close(self) -> None:
        self._tasks.close()
        self._rejected.close()


# -------------------------------------------------------------------------------------------- progress


@dataclass
class Progress:
    total: int
    finished: int = 0
    accepted: int = 0
    discarded: int = 0
    errors: int = 0
    tokens: int = 0
    calls: int = 0


@dataclass
class RunState:
    stopped: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


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


def budget_share(config: LLMConfig, parts: int) -> dict[str, int]:
    """The config update that gives each of ``parts`` workers or shards its even share of the token budget
    (none when the run has no budget), so several processes together spend no more than one would."""
    if config.token_budget is None:
        return {}
    return {"token_budget": max(1, config.token_budget // parts)}


def validate_roles(config: LLMConfig) -> None:
    for role in REQUIRED_ROLES:
        config.role(role)  # raises ConfigError naming the role


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


async def run_pipeline(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
                       on_progress: Callable[[Progress], None] | None = None,
                       cache_path: Path | Literal[False] | None = None) -> dict[str, Any]:
    """Synthesize tasks from ``personas`` into ``out``; resumes whatever ``out`` already holds.

    Returns the summary (also written to ``out/summary.json``). ``cache_path`` overrides the LLM cache
    location (``False``: no cache); without it the config's ``cache_path`` is used, else
    ``out/cache.sqlite``. Without a cache, a resumed run still skips every finished stage (state files),
    but replays the calls of an interrupted stage against the endpoint.
    """
    validate_roles(config)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, options.manifest(config))
    units = make_units(personas, options.n, options.seed)
    cache = None if cache_path is False else (cache_path or config.cache_path or out / "cache.sqlite")
    client = LLMClient(config.model_copy(update={"concurrency": options.concurrency, "cache_path": cache}))
    committer = Committer(out, units, options.dedup_threshold)
    engine = Engine(client, out, options)
    progress = Progress(total=len(units), finished=committer.next, accepted=committer.stats.accepted,
                        discarded=committer.stats.discarded)
    run_state = RunState()
    started = time.perf_counter()

    def report() -> None:
        if on_progress is not None:
            progress.accepted, progress.discarded = committer.stats.accepted, committer.stats.discarded
            progress.errors = len(run_state.errors)
            progress.tokens = client.tokens_spent
            progress.calls = sum(c["calls"] for c in client.usage.values())
            on_progress(progress)

    def on_outcome(outcome: Outcome) -> None:
        committer.offer(outcome)
        progress.finished += 1
        report()

    report()
    try:
        await run_units(engine, units[committer.next:], options.concurrency, on_outcome, run_state,
                        options.max_unit_errors)
    except asyncio.CancelledError:
        run_state.stopped = "interrupted"
        raise
    finally:
        committer.close()
        summary = build_summary(out, units, committer, run_state, options, config,
                                session_figures(client, time.perf_counter() - started))
        atomic_write_json(out / "summary.json", summary)
        await client.aclose()
    return summary


def merge_sessions(sessions: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    """Sum the session figures of several workers or shards (their wall time overlaps: ``elapsed``)."""
    keys = ("endpoint_calls", "retries", "cache_hits", "failures", "tokens_spent")
    merged: dict[str, Any] = {key: sum(s.get(key, 0) for s in sessions) for key in keys}
    merged["elapsed_s"] = round(elapsed, 3)
    merged["calls_per_s"] = round(merged["endpoint_calls"] / elapsed, 1) if elapsed > 0 else 0.0
    by_stage: dict[str, dict[str, int]] = {}
    for session in sessions:
        for stage, counts in session.get("usage_by_stage", {}).items():
            bucket = by_stage.setdefault(stage, {})
            for key, value in counts.items():
                bucket[key] = bucket.get(key, 0) + value
    merged["usage_by_stage"] = by_stage
    return merged


def synthesize(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
               workers: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Blocking entry point: :func:`run_pipeline` in this process, or ``workers`` local processes
    (:func:`synthagent.synth.llm.processes.run_processes`)."""
    if workers > 1:
        from synthagent.synth.llm.processes import run_processes

        return run_processes(config, personas, out, options, workers=workers, **kwargs)
    return asyncio.run(run_pipeline(config, personas, out, options, **kwargs))


# --------------------------------------------------------------------------------------------- summary


def build_summary(out: Path, units: list[Unit], committer: Committer, run_state: RunState, options: SynthOptions,
                  config: LLMConfig, session: dict[str, Any]) -> dict[str, Any]:
    stats = committer.stats
    funnel: dict[str, dict[str, Any]] = {}
    entered = committer.next
    for stage in STAGES:
        dropped = stats.by_stage.get(stage, 0)
        funnel[stage] = {"name": STAGE_NAMES[stage], "entered": entered, "discarded": dropped,
                         "discard_rate": round(dropped / entered, 4) if entered else 0.0,
                         "kinds": dict(sorted(stats.kinds.get(stage, Counter()).items())),
                         "repaired_replies": stats.repairs.get(stage, 0)}
        entered -= dropped
    teacher = {stage: {"prompt": stats.tokens[stage]["teacher"]["prompt"],
                       "completion": stats.tokens[stage]["teacher"]["completion"],
                       "calls": stats.tokens[stage]["teacher"]["calls"]}
               for stage in STAGES[:5] if stage in stats.tokens and "teacher" in stats.tokens[stage]}
    teacher_total = sum(v["prompt"] + v["completion"] for v in teacher.values())
    per_accepted: dict[str, float | None] = {
        STAGE_LABELS[stage]: (round((v["prompt"] + v["completion"]) / stats.accepted, 1) if stats.accepted else None)
        for stage, v in teacher.items()}
    per_accepted["total"] = round(teacher_total / stats.accepted, 1) if stats.accepted else None
    roles: dict[str, int] = defaultdict(int)
    for by_role in stats.tokens.values():
        for role, counts in by_role.items():
            roles[role] += counts["prompt"] + counts["completion"]
    complete = committer.done
    stopped = run_state.stopped
    if stopped is None and not complete and run_state.errors:
        stopped = "endpoint_errors"
    return {
        "out": str(out), "units": len(units), "committed": committer.next, "accepted": stats.accepted,
        "discarded": stats.discarded, "complete": complete, "stopped": stopped,
        "waiting": len(committer.pending),
        "unit_errors": len(run_state.errors), "first_errors": run_state.errors[:5],
        "discard_rate": round(stats.discarded / committer.next, 4) if committer.next else 0.0,
        "funnel": funnel,
        "teacher_tokens_by_stage": {STAGE_LABELS[s]: v for s, v in teacher.items()},
        "teacher_tokens_per_accepted_task": per_accepted,
        "tokens_by_role": dict(sorted(roles.items())),
        "session": session,
        "settings": {**options.manifest(config), "n": len(units), "concurrency": options.concurrency},
    }
