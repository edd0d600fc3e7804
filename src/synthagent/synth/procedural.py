"""Procedural synthesis: generate tasks from the offline worlds, self-test each, keep or reject with reason.

Task i of a run is fully determined by (seed, domain, difficulty, i), so a run can be interrupted and
resumed: indices already on disk are skipped and the output is the same as an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from synthagent.reward.selftest import self_test
from synthagent.spec.io import JsonlAppender, iter_jsonl
from synthagent.spec.models import Rejection, Task
from synthagent.worlds import GenerationFailed, Knobs, derive_seed, domain_names, generate_task, get_domain


@dataclass(frozen=True)
class ProceduralPlan:
    domains: tuple[str, ...]
    n: int
    seed: int = 0
    difficulties: tuple[int, ...] = (1, 2, 3, 4, 5)
    subgoals: int | None = None
    hidden: int | None = None
    distractors: int | None = None

    def slot(self, index: int) -> tuple[str, int, int]:
        """(domain, difficulty, task seed) of the index-th task: domains rotate fastest."""
        domain = self.domains[index % len(self.domains)]
        difficulty = self.difficulties[(index // len(self.domains)) % len(self.difficulties)]
        return domain, difficulty, derive_seed(self.seed, domain, difficulty, index)


def resolve_domains(names: str | None) -> tuple[str, ...]:
    if not names or names == "all":
        return tuple(domain_names())
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    for name in chosen:
        get_domain(name)  # raises with the list of known domains
    return chosen


def make_task(plan: ProceduralPlan, index: int, run_self_test: bool = True) -> Task | Rejection:
    domain, difficulty, seed = plan.slot(index)
    knobs = Knobs.for_difficulty(difficulty, subgoals=plan.subgoals, hidden=plan.hidden,
                                 distractors=plan.distractors)
    try:
        task = generate_task(get_domain(domain), seed, knobs, difficulty)
    except GenerationFailed as err:
        return Rejection(index=index, domain=domain, stage="generate", reason=str(err), seed=seed)
    if run_self_test:
        report = self_test(task)
        if not report.passed:
            return Rejection(index=index, domain=domain, stage="selftest", reason="; ".join(report.reasons), seed=seed)
    task.metadata["index"] = index
    return task


def iter_tasks(plan: ProceduralPlan, skip: set[int] = frozenset(), run_self_test: bool = True
               ) -> Iterator[Task | Rejection]:
    for index in range(plan.n):
        if index not in skip:
            yield make_task(plan, index, run_self_test)


def rejections_path(out: Path) -> Path:
    return out.with_name(out.stem + ".rejected.jsonl")


def synthesize_to_file(plan: ProceduralPlan, out: Path, on_item: Callable[[Task | Rejection], None] | None = None
                       ) -> tuple[int, int]:
    """Append tasks to `out` and rejections beside it; resume from whatever is already there."""
    done: set[int] = set()
    rej_path = rejections_path(out)
    for path, model in ((out, Task), (rej_path, Rejection)):
        if path.exists():
            for record in iter_jsonl(path, model, tolerate_truncated_tail=True):
                done.add(record.metadata["index"] if isinstance(record, Task) else record.index)
    kept = rejected = 0
    with JsonlAppender(out) as tasks_out, JsonlAppender(rej_path) as rej_out:
        for item in iter_tasks(plan, done):
            if isinstance(item, Task):
                tasks_out.write(item)
                kept += 1
            else:
                rej_out.write(item)
                rejected += 1
            if on_item:
                on_item(item)
    return kept, rejected
