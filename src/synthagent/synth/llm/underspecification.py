"""Stage B: rewrite into a one-sentence underspecified instruction, a hidden background, a typed ledger."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.spec.mentions import mentions
from synthagent.synth.llm.stage_prompts import render
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason
from synthagent.synth.llm.models import Rewrite, TaskDesign, Unit
from synthagent.synth.llm.design import design_json

TAG = "rewrite"
MAX_WORDS = 45
MAX_SLOTS = 6
_SENTENCE_BREAK = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORKFLOW = re.compile(r"\bstep\s*\d|\b\d\s*[.)]\s+\w|\bfirst\b.*\bthen\b.*\b(?:then|finally)\b", re.IGNORECASE)


def check_instruction(instruction: str, tool_names: list[str]) -> None:
    """One sentence, short, no tool names, no enumerated workflow."""
    text = " ".join(instruction.split())
    if _SENTENCE_BREAK.search(text):
        raise ParseError("instruction must be exactly one sentence; it has several")
    if len(text.split()) > MAX_WORDS:
        raise ParseError(f"instruction has {len(text.split())} words; keep it to one concise sentence "
                         f"(at most {MAX_WORDS} words)")
    lowered = text.lower()
    for name in tool_names:
        if name.lower() in lowered:
            raise ParseError(f"instruction names the tool {name!r}; it must not mention tools")
    if _WORKFLOW.search(text):
        raise ParseError("instruction describes steps of a workflow; state the goal only")


def parse_rewrite(text: str, design: TaskDesign) -> Rewrite:
    data = tagged_json(TAG)(text)
    try:
        rewrite = Rewrite.model_validate(data)
    except ValidationError as exc:
        raise ParseError(validation_reason(exc, "rewrite")) from None
    rewrite.instruction = " ".join(rewrite.instruction.split())
    check_instruction(rewrite.instruction, [t.name for t in design.tools])
    slots = rewrite.ledger
    if not 1 <= len(slots) <= MAX_SLOTS:
        raise ParseError(f"ledger has {len(slots)} facts; list 1 to {MAX_SLOTS}")
    names = [s.name for s in slots]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParseError(f"ledger names must be unique; repeated: {', '.join(repeated)}")
    if not any(s.required for s in slots):
        raise ParseError("ledger has no required fact; at least one detail must be needed to finish the task")
    background = rewrite.background.lower()
    for slot in slots:
        if str(slot.value).lower() not in background and not isinstance(slot.value, bool):
            raise ParseError(f"ledger value of {slot.name!r} ({slot.value!r}) does not appear in the background; "
                             "copy values exactly as the background writes them")
        if not isinstance(slot.value, bool) and mentions(rewrite.instruction, slot.value):
            raise ParseError(f"instruction reveals the private value of {slot.name!r} ({slot.value!r}); "
                             "move it to the background only")
    return rewrite


async def underspecify(client: Any, unit: Unit, design: TaskDesign, repairs: list[dict[str, str]]) -> Rewrite:
    """Stage B."""
    prompt = render("B", task_design=design_json(design))
    return await ask(client, "B", prompt, lambda text: parse_rewrite(text, design), salt=f"{unit.id}:B",
                     repairs=repairs)
