"""Commits finished units strictly in persona order: the near-duplicate gate, then one appended line.

Units finish in any order, but the near-duplicate gate compares a task only with tasks accepted before it
in persona order, and the output files are appended in that order. An interrupted and resumed run, or one
split over processes or Ray shards, therefore writes the same ``tasks.jsonl`` and ``rejected.jsonl`` as an
uninterrupted one-process run, line for line; the id of every committed unit is read back on resume, so
none is written twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthagent.spec.io import JsonlAppender, iter_jsonl
from synthagent.spec.models import Task
from synthagent.synth.llm.dedup import NearDupIndex
from synthagent.synth.llm.models import SynthRejection, Unit
from synthagent.synth.llm.outcome import Outcome, rejection_record
from synthagent.synth.llm.quality_gate import dedup_text


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
        rejected = rejection_record(outcome.unit, "F", "near_duplicate",
                                    f"near-duplicate of task {duplicate.of} (Jaccard {duplicate.similarity:.2f} over "
                                    "instruction and tool n-grams)", domain=task.domain,
                                    usage=synthesis.get("usage", {}), repairs=synthesis.get("repairs", []))
        self._rejected.write(rejected)
        self.stats.reject(rejected)

    def close(self) -> None:
        self._tasks.close()
        self._rejected.close()
