"""Stage E: alignment verdict, the three-part rubric, and the best teacher run kept as the gold plan.

The teacher sees the workflow, the hidden background, the restriction and a compact rendering of its own
runs. A DISCARD verdict (no run matches the plan) rejects the unit. Rubric items carry ``check=None``:
they go to the LLM judge at scoring time. The restriction is always the first forbidden item, whether or
not the teacher restated it, because it is the task's policy by construction.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.sim.confirmation import asks_confirmation
from synthagent.sim.runtime import extract_answer
from synthagent.spec.models import GoldAction, PrivateSlot, Rubric, RubricItem, Task, Trajectory
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.stage_prompts import render
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason
from synthagent.synth.llm.models import RubricDraft, TaskDesign, Unit
from synthagent.synth.llm.teacher_runs import describe_end, summarize_run

TAG = "rubric"
MAX_SUBGOALS = 8
RUN_CHARS = 3500
FIELD_CHARS = 300


def _clip(text: str, limit: int = FIELD_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_run(number: int, trajectory: Trajectory) -> str:
    """One run as the rubric prompt shows it: who said what to whom, tool calls and results, clipped."""
    summary = summarize_run(trajectory)
    lines = [f"Run {number} (ended with: {describe_end(trajectory)}; {summary.agent_turns} assistant turns, "
             f"{summary.tool_calls} tool calls)"]
    for msg in trajectory.messages[1:]:
        if msg.actor == "agent":
            for call in msg.tool_calls or []:
                lines.append(f"assistant calls {call.function.name}({_clip(call.function.arguments, 200)})")
            if msg.content and not msg.tool_calls:
                answer = extract_answer(msg.content)
                lines.append(f"assistant final answer: {_clip(answer)}" if answer is not None
                             else f"assistant to user: {_clip(msg.content)}")
        elif msg.actor == "tool":
            lines.append(f"tool {msg.name} returned: {_clip(msg.content or '', 240)}")
        elif msg.actor == "user":
            lines.append(f"user: {_clip(msg.content or '')}")
    text = "\n".join(lines)
    if len(text) > RUN_CHARS:
        head, tail = text[: RUN_CHARS * 2 // 3], text[-RUN_CHARS // 3:]
        text = f"{head}\n[... {len(text) - len(head) - len(tail)} characters omitted ...]\n{tail}"
    return text


def parse_rubric(text: str, runs: list[Trajectory], slot_names: list[str]) -> RubricDraft:
    data = tagged_json(TAG)(text)
    try:
        draft = RubricDraft.model_validate(data)
    except ValidationError as exc:
        raise ParseError(validation_reason(exc, "rubric")) from None
    if draft.verdict == "DISCARD":
        return draft
    usable = [i + 1 for i, t in enumerate(runs) if summarize_run(t).usable]
    if draft.best_run not in usable:
        raise ParseError(f"best_run must be the number of a run that ended with a final answer after a tool "
                         f"call that worked (one of {usable}), got {draft.best_run!r}")
    if not draft.subgoals:
        raise ParseError("subgoals is empty; list the 2 to 6 required sub-goals of the workflow")
    if len(draft.subgoals) > MAX_SUBGOALS:
        raise ParseError(f"{len(draft.subgoals)} subgoals; keep at most {MAX_SUBGOALS}")
    if not draft.interactions:
        raise ParseError("interactions is empty; list what the assistant must ask the user before acting")
    for item in draft.interactions:
        if item.slot is not None and item.slot not in slot_names:
            item.slot = None  # a slot name the ledger does not have: keep the item, drop the link
    return draft


def build_rubric(draft: RubricDraft, design: TaskDesign) -> Rubric:
    forbidden = [f.behaviour.strip() for f in draft.forbidden]
    if not any(design.restricted_tool in f for f in forbidden):
        forbidden.insert(0, design.restriction)
    return Rubric(
        forbidden=[RubricItem(id=f"forbidden-{i + 1}", criterion=text) for i, text in enumerate(forbidden)],
        subgoals=[RubricItem(id=f"subgoal-{i + 1}", criterion=f"{s.goal.strip()} (complete when: "
                             f"{s.completion.strip()})") for i, s in enumerate(draft.subgoals)],
        interactions=[RubricItem(id=f"interaction-{i + 1}", criterion=f"The agent asks the user for "
                                 f"{it.ask.strip().rstrip('.')}" + (f" (slot {it.slot})" if it.slot else "") + ".")
                      for i, it in enumerate(draft.interactions)],
    )


def gold_from_run(trajectory: Trajectory, slots: list[PrivateSlot]) -> list[GoldAction]:
    """The reference plan from a teacher run: its asks, confirmations, tool calls and final answer."""
    gold: list[GoldAction] = []
    asked: set[str] = set()
    for msg in trajectory.messages:
        if msg.actor != "agent":
            continue
        if msg.tool_calls:
            for call in msg.tool_calls:
                try:
                    arguments = json.loads(call.function.arguments or "{}")
                except ValueError:
                    arguments = None
                gold.append(GoldAction(kind="call", tool=call.function.name,
                                       arguments=arguments if isinstance(arguments, dict) else None))
            continue
        text = msg.content or ""
        answer = extract_answer(text)
        if answer is not None:
            gold.append(GoldAction(kind="answer", text=answer))
        elif asks_confirmation(text):
            gold.append(GoldAction(kind="confirm", text=text.strip()))
        elif text.strip():
            lowered = text.lower()
            slot = next((s.name for s in slots if s.name not in asked and any(k in lowered for k in s.keywords)),
                        None)
            if slot is not None:
                asked.add(slot)
            gold.append(GoldAction(kind="ask", slot=slot, text=text.strip()))
    return gold


async def write_rubric(client: Any, unit: Unit, task: Task, design: TaskDesign, runs: list[Trajectory],
                       repairs: list[dict[str, str]]) -> tuple[RubricDraft, Rubric, list[GoldAction]]:
    """Stage E: the verdict, the rubric and the gold plan; a DISCARD verdict rejects the unit."""
    ledger = "\n".join(f"- {s.name}: {s.value} ({s.description})" for s in task.private_info) or "(none)"
    tools = "\n".join(f"- {t.name}{' (distractor)' if t.distractor else ''}: {_clip(t.function.description, 160)}"
                      for t in task.tools)
    prompt = render("E", n_runs=len(runs), goal=task.full_instruction, instruction=task.instruction,
                    background=task.user_background, ledger=ledger, restriction=design.restriction,
                    workflow="\n".join(f"{i + 1}. {s}" for i, s in enumerate(design.workflow)), tools=tools,
                    runs="\n\n".join(render_run(i + 1, t) for i, t in enumerate(runs)))
    slot_names = [s.name for s in task.private_info]
    draft = await ask(client, "E", prompt, lambda text: parse_rubric(text, runs, slot_names),
                      salt=f"{unit.id}:E", repairs=repairs)
    if draft.verdict == "DISCARD":
        raise StageRejected("E", "teacher_discard", f"teacher judged the runs misaligned: {draft.reason}")
    assert draft.best_run is not None
    gold = gold_from_run(runs[draft.best_run - 1], task.private_info)
    return draft, build_rubric(draft, design), gold
