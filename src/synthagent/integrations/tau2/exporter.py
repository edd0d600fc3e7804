"""Export our tasks as τ²-bench task JSON.

Lossless where the task came from τ² and still says what it said at import: the importer keeps the raw
τ² task (`metadata["tau2_task"]`) and a fingerprint of the typed content (`metadata["tau2_fingerprint"]`);
while the fingerprint matches, export writes the raw task back unchanged.

Any other task (edited after import, procedural, synthesised) is rendered from its typed fields into τ²'s
task structure — user_scenario (reason_for_call ← full instruction, known_info / unknown_info ← the
ledger, task_instructions ← the hidden background) and evaluation_criteria (actions ← gold calls,
communicate_info ← `communicated` / `answer_contains` values, env assertions and the DB check ← our τ²
items, nl_assertions ← every other rubric item's criterion). That is lossy, and `lossy_fields` says how:
τ² keeps policy and tools per domain, not per task, so a task of a domain τ² does not have (every
procedural domain) exports as structure only — τ² cannot run it until a domain environment with those
tools exists; checks other than τ²'s become natural-language assertions for τ²'s LLM judge.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from synthagent.integrations.tau2.checks import ACTION, COMMUNICATED, DB_MATCH, ENV_ASSERTION
from synthagent.spec.models import Task
from synthagent.spec.worlds import Tau2World

TAU2_OPS = (DB_MATCH, ENV_ASSERTION, ACTION, COMMUNICATED)


def fingerprint(task: Task) -> str:
    """sha256 of the typed content: everything but the id and the metadata."""
    payload = task.model_dump(mode="json", exclude={"id", "metadata"}, warnings=False)
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_pristine_import(task: Task) -> bool:
    meta = task.metadata
    return "tau2_task" in meta and meta.get("tau2_fingerprint") == fingerprint(task)


def export_task(task: Task) -> dict[str, Any]:
    """One Task → one τ² task dict (validates with `tau2.data_model.tasks.Task`)."""
    if is_pristine_import(task):
        return copy.deepcopy(task.metadata["tau2_task"])
    return _render(task)


def export_tasks(tasks: list[Task]) -> list[dict[str, Any]]:
    return [export_task(t) for t in tasks]


def lossy_fields(task: Task) -> list[str]:
    """What an export of this task leaves out or weakens (empty: lossless)."""
    if is_pristine_import(task):
        return []
    notes = ["policy and tools (τ² keeps them per domain, not per task)"]
    if not isinstance(task.world, Tau2World):
        notes.append(f"the world: a {task.world.kind} world is not a τ² domain, so τ² cannot run or DB-check it")
    others = [i.id for _, items in task.rubric.sections() for i in items
              if not (i.check and i.check.op in TAU2_OPS)]
    if others:
        notes.append(f"{len(others)} rubric item(s) without a τ² check become nl_assertions: {', '.join(others)}")
    if any(a.kind in ("ask", "confirm") for a in task.gold):
        notes.append("gold ask/confirm steps (τ² reference actions are tool calls only)")
    if task.private_info:
        notes.append("the typed ledger (rendered as known_info / unknown_info text)")
    if task.workflow:
        notes.append("the workflow")
    notes.append("difficulty and source")
    return notes


def _action_args(task: Task) -> dict[tuple[str, str], list[str] | None]:
    """compare_args of our tau2_action items, by (tool, canonical arguments)."""
    out: dict[tuple[str, str], list[str] | None] = {}
    for _, items in task.rubric.sections():
        for item in items:
            if item.check and item.check.op == ACTION:
                a = item.check.args
                out[(a["name"], json.dumps(a.get("arguments") or {}, sort_keys=True))] = a.get("compare_args")
    return out


def _render(task: Task) -> dict[str, Any]:
    tau2 = task.world.model_dump(exclude={"kind"}) if isinstance(task.world, Tau2World) else {}
    compare = _action_args(task)
    actions = []
    for i, step in enumerate((a for a in task.gold if a.kind == "call"), start=0):
        key = (step.tool or "", json.dumps(step.arguments or {}, sort_keys=True))
        action: dict[str, Any] = {"action_id": f"{tau2.get('task_id', task.id)}_{i}", "requestor": "assistant",
                                  "name": step.tool, "arguments": step.arguments or {}, "info": None}
        if key in compare:
            action["compare_args"] = compare[key]
        actions.append(action)
    infos: list[str] = []
    env_assertions: list[dict[str, Any]] = []
    nl: list[str] = []
    has_db = False
    for section, items in task.rubric.sections():
        for item in items:
            op = item.check.op if item.check else None
            if op == COMMUNICATED:
                infos.append(str(item.check.args["info"]))  # type: ignore[union-attr]
            elif op == "answer_contains":
                infos.extend(str(v) for v in item.check.args.get("values", []))  # type: ignore[union-attr]
            elif op == ENV_ASSERTION:
                env_assertions.append(item.check.args["assertion"])  # type: ignore[union-attr]
            elif op == DB_MATCH:
                has_db = True
            elif op != ACTION:
                nl.append(("Must not happen: " if section == "forbidden" else "") + item.criterion)
    if tau2:
        basis = (["DB"] if has_db else []) + (["ENV_ASSERTION"] if env_assertions else []) + ["COMMUNICATE"]
    else:
        basis = ["ACTION", "COMMUNICATE"]
    if nl:
        basis.append("NL_ASSERTION")
    known = [_known_line(s.description, s.value) for s in task.private_info if s.name != "unknown" and
             not s.name.startswith("unknown_")]
    unknown = [str(s.value) for s in task.private_info if s.name == "unknown" or s.name.startswith("unknown_")]
    return {
        "id": str(tau2.get("task_id") or task.metadata.get("tau2_id") or task.id),
        "description": {"purpose": None, "relevant_policies": None,
                        "notes": f"Exported from synthagent ({task.source.generator}, domain {task.domain})."},
        "user_scenario": {
            "persona": None,
            "instructions": {
                "domain": tau2.get("domain", task.domain),
                "reason_for_call": task.full_instruction or task.instruction,
                "known_info": "\n".join(known) or None,
                "unknown_info": "\n".join(unknown) or None,
                "task_instructions": task.user_background or "Answer the agent's questions; share details only when asked.",
            },
        },
        "initial_state": tau2.get("initial_state"),
        "evaluation_criteria": {
            "actions": actions,
            "env_assertions": env_assertions or None,
            "communicate_info": infos,
            "nl_assertions": nl or None,
            "reward_basis": basis,
        },
    }


def _known_line(description: str, value: Any) -> str:
    if description in ("", "something the user knows"):
        return str(value)
    label = description.removeprefix("the user's ")
    return f"Your {label} is {value}."
