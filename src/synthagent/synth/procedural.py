"""Procedural synthesis: generate tasks from the offline worlds, self-test each, keep or reject with reason.

Task i of a run is fully determined by (seed, domain, difficulty, i), so a run can be interrupted and
resumed: indices already on disk are skipped and the output is the same as an uninterrupted run. That
holds only under the same plan, so the plan is recorded in a manifest beside the file and a rerun under a
different one is refused (`ManifestMismatch`, naming each difference); only `n` may grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from synthagent.reward.selftest import self_test
from synthagent.spec.io import JsonlAppender, iter_jsonl
from synthagent.spec.manifest import check_manifest, describe_partial, manifest_path, partial_tail
from synthagent.spec.models import Rejection, Task
from synthagent.synth.obtainability import untraceable
from synthagent.worlds import BranchMix, GenerationFailed, Knobs, derive_seed, domain_names, generate_task, get_domain
from synthagent.worlds.generated import expand_names


@dataclass(frozen=True)
class ProceduralPlan:
    domains: tuple[str, ...]
    n: int
    seed: int = 0
    difficulties: tuple[int, ...] = (1, 2, 3, 4, 5)
    subgoals: int | None = None
    hidden: int | None = None
    distractors: int | None = None
    mix: str = ""  # BranchMix text ('refuse=0.2,adversarial=0.5'); empty: plain tasks, as before

    def __post_init__(self) -> None:
        if not self.domains:
            raise ValueError("--domains: no domain given")
        if not self.difficulties:
            raise ValueError("--difficulty: no level given; use levels 1..5, e.g. 1,2,3")
        bad = [level for level in self.difficulties if not 1 <= level <= 5]
        if bad:
            raise ValueError(f"--difficulty: levels are 1..5, got {bad[0]}")
        BranchMix.parse(self.mix)  # fails with the bad key

    @property
    def branch_mix(self) -> BranchMix:
        return BranchMix.parse(self.mix)

    def manifest(self) -> dict[str, object]:
        """Everything that decides task i; `n` is the one count that may grow on a rerun."""
        plan = asdict(self)
        if not self.mix:
            del plan["mix"]  # runs made before the knob existed resume under the same manifest
        return {"command": "synth procedural", **plan}

    def slot(self, index: int) -> tuple[str, int, int]:
        """(domain, difficulty, task seed) of the index-th task: domains rotate fastest."""
        domain = self.domains[index % len(self.domains)]
        difficulty = self.difficulties[(index // len(self.domains)) % len(self.difficulties)]
        return domain, difficulty, derive_seed(self.seed, domain, difficulty, index)


def resolve_domains(names: str | None) -> tuple[str, ...]:
    if not names or names == "all":
        return tuple(domain_names())
    chosen = expand_names([n.strip() for n in names.split(",") if n.strip()])
    for name in chosen:
        get_domain(name)  # raises with the list of known domains
    return chosen


def make_task(plan: ProceduralPlan, index: int, run_self_test: bool = True) -> Task | Rejection:
    domain, difficulty, seed = plan.slot(index)
    knobs = Knobs.for_difficulty(difficulty, subgoals=plan.subgoals, hidden=plan.hidden,
                                 distractors=plan.distractors)
    try:
        task = generate_task(get_domain(domain), seed, knobs, difficulty, plan.branch_mix if plan.mix else None)
    except GenerationFailed as err:
        return Rejection(index=index, domain=domain, stage="generate", reason=str(err), seed=seed)
    if run_self_test:
        report = self_test(task)
        if not report.passed:
            return Rejection(index=index, domain=domain, stage="selftest", reason="; ".join(report.reasons), seed=seed)
        missing = untraceable(task, report.gold_run.messages) if report.gold_run is not None else []
        if missing:
            return Rejection(index=index, domain=domain, stage="obtainability", seed=seed,
                             reason="; ".join(t.reason() for t in missing))
    task.metadata["index"] = index
    return task


def iter_tasks(plan: ProceduralPlan, skip: set[int] = frozenset(), run_self_test: bool = True
               ) -> Iterator[Task | Rejection]:
    for index in range(plan.n):
        if index not in skip:
            yield make_task(plan, index, run_self_test)


def rejections_path(out: Path) -> Path:
    return out.with_name(out.stem + ".rejected.jsonl")


def synthesize_to_file(plan: ProceduralPlan, out: Path, on_item: Callable[[Task | Rejection], None] | None = None,
                       *, overwrite: bool = False, on_note: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Append tasks to `out` and rejections beside it; resume from whatever is already there.

    Refuses (`ManifestMismatch`) when `out` was made under another plan; `overwrite` starts again.
    """
    done: set[int] = set()
    rej_path = rejections_path(out)
    if overwrite:
        for path in (out, rej_path, manifest_path(out)):
            path.unlink(missing_ok=True)
    check_manifest(manifest_path(out), plan.manifest(), growable=("n",), what=str(out))
    partial = [(p, partial_tail(p)) for p in (out, rej_path)]
    for path, model in ((out, Task), (rej_path, Rejection)):
        if path.exists():
            for record in iter_jsonl(path, model, tolerate_truncated_tail=True):
                done.add(record.metadata["index"] if isinstance(record, Task) else record.index)
    if done and on_note:
        on_note(f"resumed {out}: {len(done)} of {plan.n} task indices already done")
    for path, line in partial:
        if line is not None and on_note:
            on_note(f"{path}: {describe_partial(line)}")
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
