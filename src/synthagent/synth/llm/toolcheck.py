"""Stage C: tool check: drop self-doable tools, small text-simulatable outputs, 1–2 distractors, solvable."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.synth.llm.stage_prompts import render
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason
from synthagent.synth.llm.models import Rewrite, TaskDesign, ToolCheck, Unit
from synthagent.synth.llm.schemas import output_size_problem, tool_schema_problem
from synthagent.synth.llm.design import design_json

TAG = "tool_check"
MIN_KEPT = 2
MIN_DISTRACTORS, MAX_DISTRACTORS = 1, 2


def parse_toolcheck(text: str, design: TaskDesign) -> ToolCheck:
    data = tagged_json(TAG)(text)
    try:
        check = ToolCheck.model_validate(data)
    except ValidationError as exc:
        raise ParseError(validation_reason(exc, "tool_check")) from None
    original = [t.name for t in design.tools]
    kept = [t.name for t in check.tools]
    invented = [n for n in kept if n not in original]
    if invented:
        raise ParseError(f"kept tools {invented} are not tools of the task ({', '.join(original)}); do not rename "
                         "tools, and list new tools under distractors")
    if len(set(kept)) != len(kept):
        raise ParseError("a kept tool is listed twice")
    if design.restricted_tool not in kept:
        raise ParseError(f"the restricted tool {design.restricted_tool!r} was removed; it must be kept")
    if len(kept) < MIN_KEPT:
        raise ParseError(f"only {len(kept)} tool(s) kept; the task needs at least {MIN_KEPT} to stay solvable")
    removed = [r.name for r in check.removed]
    wrong = [n for n in removed if n not in original or n in kept]
    if wrong:
        raise ParseError(f"removed lists {wrong}, which are not removed tools of the task")
    unaccounted = [n for n in original if n not in kept and n not in removed]
    if unaccounted:
        raise ParseError(f"tools {unaccounted} are neither kept nor listed under removed with a reason")
    if not MIN_DISTRACTORS <= len(check.distractors) <= MAX_DISTRACTORS:
        raise ParseError(f"{len(check.distractors)} distractors; add {MIN_DISTRACTORS} or {MAX_DISTRACTORS}")
    distractor_names = [t.name for t in check.distractors]
    clash = [n for n in distractor_names if n in original or distractor_names.count(n) > 1]
    if clash:
        raise ParseError(f"distractor names {clash} clash with task tools or each other; give them new names")
    for tool in check.tools:
        problem = tool_schema_problem(tool) or output_size_problem(tool)
        if problem:
            raise ParseError(problem)
    for tool in check.distractors:
        problem = tool_schema_problem(tool, "distractor") or output_size_problem(tool)
        if problem:
            raise ParseError(problem)
    return check


async def check_tools(client: Any, unit: Unit, design: TaskDesign, rewrite: Rewrite,
                      repairs: list[dict[str, str]]) -> ToolCheck:
    """Stage C."""
    prompt = render("C", task_design=design_json(design), instruction=rewrite.instruction,
                    background=rewrite.background, restricted_tool=design.restricted_tool)
    return await ask(client, "C", prompt, lambda text: parse_toolcheck(text, design), salt=f"{unit.id}:C",
                     repairs=repairs)
