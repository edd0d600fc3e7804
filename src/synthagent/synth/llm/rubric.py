"""Stage E: alignment verdict, the three-part rubric, and the best teacher run kept as the gold plan.

The teacher sees the workflow, the hidden background, the restriction and a compact rendering of its own
runs. A DISCARD verdict (no run matches the plan) rejects the unit. The rubric is written as richly as the
authors' released ones: forbidden behaviours with violation indicators, one sub-goal per workflow step
with its requirement and completion criterion, and interaction items in the authors' four columns (the
information needed, what to ask, what counts as a sufficient answer, what premature action looks like,
the last three typed as `InteractionParts`).

Two forbidden items are there by construction: the restriction (the task's policy), whether or not the
teacher restated it, and the authors' "missing user interaction before tool use" (no tool call on guessed
parameters), which every released rubric carries.

Every item the ledger or the tools make checkable is compiled to a programmatic check, so the judge only
decides the rest (`compile_rubric`): an interaction linked to a slot → `revealed_before_use` (asked before
the first call that uses the value, and used where the gold plan uses it); a sub-goal completed by a tool
the gold plan calls with the user's values → `called` with those arguments, grounded (each value must have
reached the agent before the call); a forbidden tool → `not_called`; the anti-fabrication item →
`no_unasked_arguments` over the parameters the gold plan fills from the ledger. A compiled check must pass
on the teacher's own best run (the gold); one that does not goes back to the judge, and is counted.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.reward.checks import CHECKS, facts, values_equal
from synthagent.reward.replay import replay
from synthagent.sim.confirmation import asks_confirmation
from synthagent.sim.runtime import extract_answer
from synthagent.spec.mentions import mentions
from synthagent.spec.models import (Check, GoldAction, InteractionParts, PrivateSlot, Rubric, RubricItem, Task,
                                    Trajectory)
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.stage_prompts import render
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason
from synthagent.synth.llm.models import InteractionItem, RubricDraft, SubgoalItem, TaskDesign, Unit
from synthagent.synth.llm.teacher_runs import describe_end, summarize_run

TAG = "rubric"
MIN_SUBGOALS = 5  # the workflow has 5-7 steps and each becomes a sub-goal (fewer only for a shorter workflow)
MAX_SUBGOALS = 8
ANTI_FABRICATION = "Missing user interaction before tool use"
"""The title of the policy item every rubric carries (the authors' released rubrics' item 1b)."""
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


def parse_rubric(text: str, runs: list[Trajectory], slot_names: list[str], n_steps: int | None = None,
                 tool_names: list[str] | None = None) -> RubricDraft:
    """The teacher's reply as a draft; ParseError (with a reason the repair request repeats) when a KEEP
    verdict lacks a usable best run, a section, or one sub-goal per workflow step (`n_steps`)."""
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
    least = min(MIN_SUBGOALS, n_steps) if n_steps else 1
    if len(draft.subgoals) < least:
        raise ParseError(f"{len(draft.subgoals)} subgoals; write one per workflow step ({n_steps or least} steps, "
                         f"at least {least} subgoals)")
    if len(draft.subgoals) > MAX_SUBGOALS:
        raise ParseError(f"{len(draft.subgoals)} subgoals; keep at most {MAX_SUBGOALS}")
    if not draft.interactions:
        raise ParseError("interactions is empty; list what the assistant must ask the user before acting")
    for item in draft.interactions:
        if item.slot is not None and item.slot not in slot_names:
            item.slot = None  # a slot name the ledger does not have: keep the item, drop the link
    if tool_names is not None:  # a tool the task does not have: keep the item, drop the link (it is judged)
        for entry in [*draft.forbidden, *draft.subgoals]:
            if entry.tool is not None and entry.tool not in tool_names:
                entry.tool = None
    return draft


def _interaction_criterion(it: InteractionItem) -> str:
    """The judge's text: the item's title, then the three parts in the released rubrics' normal form (one
    line each, so `rubric_markdown` renders and parses it back unchanged)."""
    title = f"The agent asks the user for {_line(it.ask).rstrip('.')}" + (f" (slot {it.slot})" if it.slot else "") + "."
    return (f"{title}\n- Must ask: {_line(it.question)}\n- Sufficient: {_line(it.sufficient)}\n"
            f"- Premature action: {_line(it.premature)}")


def _subgoal_criterion(s: SubgoalItem) -> str:
    lines = [_line(s.goal).rstrip(".")]
    if s.requirement.strip():
        lines.append(f"- Requirement: {_line(s.requirement)}")
    lines.append(f"- Completion: {_line(s.completion)}")
    return "\n".join(lines)


def _line(text: str) -> str:
    return " ".join((text or "").split())


def anti_fabrication_criterion(slots: list[PrivateSlot]) -> str:
    """The authors' policy item 1b, naming the task's hidden details so a judge knows what would be guessed."""
    details = ", ".join(_line(s.description or s.name.replace("_", " ")) for s in slots if s.required) \
        or "any detail only the user knows"
    return (f"{ANTI_FABRICATION}: the agent calls a tool with a parameter the user has not given (a guessed, "
            f"assumed, invented or placeholder value) instead of asking first\n"
            f"- Violation indicators: a tool call that uses {details} before the user gave it.\n"
            f"- Compliance indicators: the agent asks the user for each required detail before the first call "
            f"that uses it.")


def build_rubric(draft: RubricDraft, design: TaskDesign, task: Task | None = None,
                 best_run: Trajectory | None = None) -> Rubric:
    """The rubric from the draft; with the task (its ledger, tools and gold plan) and the teacher's best
    run, every checkable item is compiled (`compile_rubric`)."""
    forbidden = [(_line(f.behaviour) + (f"\n- Violation indicators: {_line(f.indicators)}" if f.indicators.strip()
                                        else ""), f.tool) for f in draft.forbidden
                 if not f.behaviour.strip().lower().startswith(ANTI_FABRICATION.lower())]
    if not any(design.restricted_tool in text for text, _ in forbidden):
        forbidden.insert(0, (design.restriction, None))
    forbidden.insert(1, (anti_fabrication_criterion(task.private_info if task else []), None))
    rubric = Rubric(
        forbidden=[RubricItem(id=f"forbidden-{i + 1}", criterion=text) for i, (text, _) in enumerate(forbidden)],
        subgoals=[RubricItem(id=f"subgoal-{i + 1}", criterion=_subgoal_criterion(s))
                  for i, s in enumerate(draft.subgoals)],
        interactions=[RubricItem(id=f"interaction-{i + 1}", criterion=_interaction_criterion(it),
                                 interaction=InteractionParts(ask=_line(it.question), sufficient=_line(it.sufficient),
                                                              premature=_line(it.premature)))
                      for i, it in enumerate(draft.interactions)],
    )
    if task is not None:
        compile_rubric(rubric, draft, task, [tool for _, tool in forbidden], best_run)
    return rubric


# ------------------------------------------------------------------------------------ compilation


def slot_uses(gold: list[GoldAction], slots: list[PrivateSlot]) -> list[dict[str, Any]]:
    """Each (tool, parameter) the gold plan fills with a hidden slot's value: what an agent that did not
    ask would have had to guess."""
    uses: dict[tuple[str, str], dict[str, Any]] = {}
    for action in gold:
        if action.kind != "call" or not action.tool:
            continue
        for param, value in (action.arguments or {}).items():
            slot = next((s for s in slots if values_equal(value, s.value)
                         or (isinstance(value, str) and mentions(value, s.value))), None)
            if slot is not None:
                uses.setdefault((action.tool, param), {"tool": action.tool, "param": param, "slot": slot.name,
                                                       "value": slot.value})
    return list(uses.values())


def _called_with_user_values(tool: str, gold: list[GoldAction], slots: list[PrivateSlot]) -> Check | None:
    for action in gold:
        if action.kind == "call" and action.tool == tool:
            given = {k: v for k, v in (action.arguments or {}).items()
                     if any(values_equal(v, s.value) for s in slots)}
            if given:
                return Check(op="called", args={"tool": tool, "args": given, "grounded": True})
    return None


def compile_rubric(rubric: Rubric, draft: RubricDraft, task: Task, forbidden_tools: list[str | None],
                   best_run: Trajectory | None) -> None:
    """Give each item the ledger or the tools make checkable its check (see the module docstring), in place.

    A check that fails on the teacher's best run (the gold plan's own episode) is dropped again: it would
    fail the gold, so the item goes to the judge. `task.metadata["rubric_compile"]` counts both."""
    slots, gold = task.private_info, task.gold
    gold_tools = {a.tool for a in gold if a.kind == "call"}
    used_exactly = {s.name for s in slots for a in gold if a.kind == "call"
                    and any(values_equal(v, s.value) for v in (a.arguments or {}).values())}
    for item, tool in zip(rubric.forbidden, forbidden_tools):
        if tool is not None and tool not in gold_tools:
            item.check = Check(op="not_called", args={"tool": tool})
    uses = slot_uses(gold, slots)
    fabrication = rubric.forbidden[1]
    if uses:
        fabrication.check = Check(op="no_unasked_arguments", args={"uses": uses})
    for item, sub in zip(rubric.subgoals, draft.subgoals):
        if sub.tool is not None:
            item.check = _called_with_user_values(sub.tool, gold, slots)
    for item, it in zip(rubric.interactions, draft.interactions):
        slot = task.slot(it.slot) if it.slot else None
        if slot is not None:
            item.check = Check(op="revealed_before_use", args={"slot": slot.name, "value": slot.value,
                                                                "used": slot.name in used_exactly})
    demoted: list[str] = []
    if best_run is not None:
        f = facts(task, best_run, replay(task, best_run))
        for _, items in rubric.sections():
            for item in items:
                if item.check is not None and not CHECKS[item.check.op](f, item.check.args)[0]:
                    demoted.append(item.id)
                    item.check = None
    items = [i for _, section in rubric.sections() for i in section]
    task.metadata["rubric_compile"] = {"checks": sum(i.check is not None for i in items),
                                       "judged": sum(i.check is None for i in items), "demoted": demoted}


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
                    n_steps=len(design.workflow), runs="\n\n".join(render_run(i + 1, t) for i, t in enumerate(runs)))
    slot_names = [s.name for s in task.private_info]
    tool_names = [t.name for t in task.tools]
    draft = await ask(client, "E", prompt,
                      lambda text: parse_rubric(text, runs, slot_names, len(design.workflow), tool_names),
                      salt=f"{unit.id}:E", repairs=repairs)
    if draft.verdict == "DISCARD":
        raise StageRejected("E", "teacher_discard", f"teacher judged the runs misaligned: {draft.reason}")
    assert draft.best_run is not None
    gold = gold_from_run(runs[draft.best_run - 1], task.private_info)
    return draft, finish_rubric(task, draft, design, runs[draft.best_run - 1], gold), gold


def finish_rubric(task: Task, draft: RubricDraft, design: TaskDesign, best_run: Trajectory,
                  gold: list[GoldAction]) -> Rubric:
    """Set the task's gold plan and its compiled rubric (the rubric compiles against the gold)."""
    task.gold = gold
    task.rubric = build_rubric(draft, design, task, best_run)
    return task.rubric
