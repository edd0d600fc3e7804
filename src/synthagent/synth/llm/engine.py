"""One unit through stages A–F (and P, the policy tree, with ``policy_trees``), each finished stage read back
from or saved to its state file.

The engine is what every back end runs; only where it runs differs (this event loop, a worker process,
a Ray shard). A stage's output is saved as soon as the stage finishes (``state.py``), so an interrupted
unit resumes at the stage that was running, replaying that stage's calls from the LLM cache.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from synthagent.llm.client import BudgetExceeded, LLMCallError, LLMClient
from synthagent.spec.models import Source, Task, Trajectory
from synthagent.synth.llm.design import design_task
from synthagent.synth.llm.models import Rewrite, RubricDraft, TaskDesign, ToolCheck, Unit
from synthagent.synth.llm.obtainable import require_obtainable
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.policy_tree import (
    PROMPT_VERSION as POLICY_TREE_PROMPT,
    PolicyDraft,
    apply_branch,
    branch_rubric,
    check_gold_path,
    rubric_design,
    variant_for,
    write_policy_tree,
)
from synthagent.synth.llm.outcome import Outcome, StageRejected, rejection_record
from synthagent.synth.llm.quality_gate import gate
from synthagent.synth.llm.rubric import finish_rubric, gold_from_run, write_rubric
from synthagent.synth.llm.stage_prompts import PROMPT_VERSIONS
from synthagent.synth.llm.state import UnitState
from synthagent.synth.llm.teacher_runs import solve, summarize_run
from synthagent.synth.llm.toolcheck import check_tools
from synthagent.synth.llm.underspecification import underspecify
from synthagent.synth.llm.unit_meter import UnitMeter

GENERATOR = "synthagent.synth.llm"
T = TypeVar("T")


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
            if self.options.policy_trees:
                stage = "P"
                tree = await self._stage(state, "P", lambda c: write_policy_tree(c, unit, design, task, repairs),
                                         PolicyDraft.model_validate, lambda v: v.model_dump(mode="json"))
                apply_branch(task, tree, variant_for(unit.id))
                task.source.params["prompts"]["P"] = POLICY_TREE_PROMPT
            stage = "D"
            runs = await self._stage(
                state, "D", lambda c: solve(c, task, runs=self.options.runs, max_turns=self.options.max_turns,
                                            mocks_dir=self.mocks_dir, tool_cap=self.options.tool_cap),
                lambda v: [Trajectory.model_validate(t) for t in v["runs"]],
                lambda v: {"runs": [t.model_dump(mode="json") for t in v]})
            stage = "E"
            draft = await self._stage(state, "E", lambda c: _draft(c, unit, task, rubric_design(design, task), runs, repairs),
                                      RubricDraft.model_validate, lambda v: v.model_dump(mode="json"))
            finish_task(task, draft, design, runs, state)
            stage = "F"
            gold_run = runs[draft.best_run - 1] if draft.best_run else runs[0]
            check_gold_path(task, gold_run)
            task.metadata["obtainability"] = require_obtainable(task, gold_run)
            outcome = Outcome(unit, task=gate(task))
        except StageRejected as rejected:
            usage = state.usage()
            if rejected.usage:
                usage[rejected.stage] = rejected.usage
            outcome = Outcome(unit, rejection=rejection_record(
                unit, rejected.stage, rejected.kind, rejected.reason, attempts=rejected.attempts, domain=domain,
                usage=usage, repairs=repairs))
        except (LLMCallError, BudgetExceeded):
            raise
        except Exception as exc:  # a reply our code did not foresee: recorded, never fatal to the run
            outcome = Outcome(unit, rejection=rejection_record(
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
    best = runs[draft.best_run - 1]
    finish_rubric(task, draft, design, best, gold_from_run(best, task.private_info))
    task.rubric = branch_rubric(task)  # unchanged for a task without a branch; appends compiled branch items
    task.metadata["alignment"] = {"verdict": draft.verdict, "reason": draft.reason, "best_run": draft.best_run}
    task.metadata["teacher_runs"] = [summarize_run(t).model_dump() for t in runs]
    task.metadata["synthesis"] = {"usage": state.usage(), "repairs": list(state.repairs)}
