"""Stage A: persona → task, a 3–5 tool ecosystem, one restriction, a 5–7 step workflow."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.synth.llm.stage_prompts import render
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason
from synthagent.synth.llm.models import TaskDesign, Unit
from synthagent.synth.llm.schemas import tool_schema_problem

TAG = "task_design"
MIN_TOOLS, MAX_TOOLS = 3, 5
MIN_STEPS, MAX_STEPS = 5, 7
RESTRICTION = re.compile(
    r"^\s*(?:the\s+)?tool\s+[`'\"]?(?P<tool>[A-Za-z][A-Za-z0-9_]*)[`'\"]?\s+must\s+not\s+be\s+used\s+to\s+"
    r"(?P<action>.+?)\.\s+this\s+restriction\s+exists\s+because\s+(?P<reason>.+?)\.\s+"
    r"violating\s+it\s+fails\s+the\s+task\.?\s*$",
    re.IGNORECASE | re.DOTALL)
RESTRICTION_FORM = ('"Tool <tool_name> must NOT be used to <action>. This restriction exists because <reason>. '
                    'Violating it fails the task."')


def parse_design(text: str) -> TaskDesign:
    """Strictly parse and check stage A's reply; every problem is a ParseError naming what to fix."""
    data = tagged_json(TAG)(text)
    try:
        design = TaskDesign.model_validate(data)
    except ValidationError as exc:
        raise ParseError(validation_reason(exc, "task_design")) from None
    return check_design(design)


def check_design(design: TaskDesign) -> TaskDesign:
    names = [t.name for t in design.tools]
    if not MIN_TOOLS <= len(names) <= MAX_TOOLS:
        raise ParseError(f"task_design has {len(names)} tools; it needs {MIN_TOOLS} to {MAX_TOOLS}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParseError(f"tool names must be unique; repeated: {', '.join(duplicates)}")
    if len({n.split('_')[0].lower() for n in names}) < 2:
        raise ParseError("all tools do the same kind of thing (same verb); design tools of different kinds")
    for tool in design.tools:
        problem = tool_schema_problem(tool)
        if problem:
            raise ParseError(problem)
    match = RESTRICTION.match(design.restriction)
    if match is None:
        raise ParseError(f"restriction is not in the required form {RESTRICTION_FORM}")
    tool = match.group("tool")
    if tool not in names:
        raise ParseError(f"restriction names tool {tool!r}, which is not one of the tools ({', '.join(names)})")
    if not MIN_STEPS <= len(design.workflow) <= MAX_STEPS:
        raise ParseError(f"workflow has {len(design.workflow)} steps; it needs {MIN_STEPS} to {MAX_STEPS}")
    design.restriction = " ".join(design.restriction.split())
    design.restricted_tool = tool
    return design


async def design_task(client: Any, unit: Unit, repairs: list[dict[str, str]]) -> TaskDesign:
    """Stage A. ``client`` is an LLMClient or a UnitMeter over one."""
    prompt = render("A", persona=unit.persona.strip(), variation=unit.seed)
    return await ask(client, "A", prompt, parse_design, salt=f"{unit.id}:A", repairs=repairs)


def design_json(design: TaskDesign) -> str:
    """The design as the later prompts show it (without our derived field). Compact on purpose: with
    ``indent`` the json module falls back to its pure-Python encoder, which showed up in profiles."""
    return json.dumps(design.model_dump(mode="json", exclude={"restricted_tool"}), ensure_ascii=False)
