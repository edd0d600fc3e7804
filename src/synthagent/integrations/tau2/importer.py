"""Import τ²-bench tasks (airline, retail, telecom, mock) into our Task format.

Mapping of one τ² task:

- `instruction` ← the user's opening message: the first sentence of `reason_for_call`, in the first
  person (in τ² the agent sees nothing but what the user says); `full_instruction` ← all of
  `reason_for_call`, in the first person.
- `private_info` ← `known_info` (identifiers as required slots with keywords; other sentences as
  optional fact slots) and `unknown_info` (optional slots, never revealed). A slot whose value the
  opening already says is left out: it is not private.
- `user_background` ← τ²'s full user scenario (persona and instructions), as τ² renders it for its user
  simulator.
- `policy` ← the domain policy, one rule per paragraph, bullet or heading.
- `tools` ← the assistant's τ² tools in OpenAI format; `kind` = "write" for τ²'s WRITE tools, "read"
  for READ, GENERIC and THINK tools; `returns` ← the tool's return schema.
- `gold` ← the assistant's reference actions as `call` steps, then an `answer` that says every
  `communicate_info` string. User-side actions (telecom's device actions) have no place in our runtime
  and stay in the rubric's db/env checks only.
- `rubric` ← τ²'s reward basis as checks: DB → one forbidden item `tau2_db_match` (τ² multiplies its
  reward by it, so it gates ours); ENV_ASSERTION → one forbidden item `tau2_env_assertion` per
  assertion; each assistant WRITE action (and every assistant action when ACTION is in the reward basis)
  → a sub-goal `tau2_action`; COMMUNICATE → a sub-goal `communicated` per string. NL assertions have no
  programmatic check: they become judge items only when NL_ASSERTION is in the reward basis (only some
  mock tasks), and are otherwise kept in metadata, as τ²'s default evaluation ignores them.
- `world` ← {"tau2": {"domain", "task_id", "initial_state" (when the task has one)}} — never the DB.
- `source` ← Source(generator="tau2/<domain>"); `metadata` ← τ²'s id, split, reward basis, NL
  assertions and the raw task (`tau2_task`, what the exporter writes back unchanged).
- `domain` ← "tau2-<domain>", so τ² tasks never mix with our procedural domains of the same name.
- `difficulty` ← 1–5 from the number of reference actions (≤2, ≤4, ≤7, ≤10, more).

With `ask=True` the task additionally teaches the information-gap skill of the SynthAgent method: the
gold plan asks for each identifier before its first use and confirms each write (τ²'s policies require
an explicit yes), the rubric gains one interaction item per such identifier (`revealed_before_use`) and
a forbidden `confirmed_writes` item. This is stricter than τ²'s own reward.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthagent.integrations.tau2.checks import (
    ACTION,
    COMMUNICATED,
    DB_MATCH,
    ENV_ASSERTION,
    install_checks,
    make_check,
)
from synthagent.integrations.tau2.exporter import fingerprint
from synthagent.integrations.tau2.env import WORLDS, Tau2Worlds, domain_info, require_tau2
from synthagent.integrations.tau2.text import first_person, opening_message, parse_ledger, split_policy
from synthagent.spec.io import FormatError, OnReject
from synthagent.spec.models import FunctionDef, GoldAction, Rubric, RubricItem, Source, Task, ToolSpec
from synthagent.spec.worlds import Tau2World

DEFAULT_REWARD_BASIS = ["DB", "COMMUNICATE"]


class Tau2FormatError(ValueError):
    """A τ² task that cannot be imported; the message names the file, the task and the field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def domain_name(domain: str) -> str:
    return f"tau2-{domain}"


def task_file(domain: str) -> Path:
    require_tau2()
    from tau2.utils.utils import DATA_DIR

    return DATA_DIR / "tau2" / "domains" / domain / domain_info(domain).task_file


def load_raw_tasks(domain: str, split: str | None = "base", path: str | Path | None = None) -> list[dict[str, Any]]:
    """τ²'s task dicts of a domain, as stored (default: the domain's packaged tasks, `split` of them)."""
    return [raw for _, raw in numbered_raw_tasks(domain, split, path)]


def numbered_raw_tasks(domain: str, split: str | None = "base", path: str | Path | None = None
                       ) -> list[tuple[int, Any]]:
    """(1-based position in the file, task) pairs; an entry that is not an object is kept, for the
    importer to reject with its position (with a split, only entries whose id the split names are kept)."""
    source = Path(path) if path is not None else task_file(domain)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise Tau2FormatError(f"{source}:{err.lineno}: not valid JSON ({err.msg})") from err
    if isinstance(data, dict) and "tasks" in data:
        data = data["tasks"]
    if not isinstance(data, list):
        raise Tau2FormatError(f"{source}: expected a list of τ² tasks")
    numbered = list(enumerate(data, start=1))
    if split is None:
        return numbered
    split_path = source.parent / f"split_{source.stem}.json"
    if not split_path.exists():
        if path is not None:
            return numbered
        raise Tau2FormatError(f"{split_path}: no split file; pass split=None for all tasks")
    splits = json.loads(split_path.read_text(encoding="utf-8"))
    if split not in splits:
        raise Tau2FormatError(f"{split_path}: no split {split!r}; known: {', '.join(splits)}")
    wanted = set(splits[split])
    return [(n, t) for n, t in numbered if isinstance(t, dict) and t.get("id") in wanted]


def tool_specs(domain: str, worlds: Tau2Worlds = WORLDS) -> list[ToolSpec]:
    _, tools, types = worlds.describe(domain)
    specs = []
    for tool in sorted(tools, key=lambda t: t.name):
        fn = tool.openai_schema["function"]
        returns = tool.returns.model_json_schema() if tool.returns is not None else {}
        specs.append(ToolSpec(function=FunctionDef(name=fn["name"], description=fn.get("description", ""),
                                                   parameters=fn.get("parameters") or {}),
                              returns=returns, kind="write" if types.get(tool.name) == "write" else "read"))
    return specs


def _difficulty(n_actions: int) -> int:
    return next((level for level, top in enumerate((2, 4, 7, 10), start=1) if n_actions <= top), 5)


def _scenario_text(scenario: dict[str, Any]) -> str:
    from tau2.data_model.tasks import UserScenario

    return str(UserScenario.model_validate(scenario))


def _answer_text(infos: list[str]) -> str:
    if not infos:
        return "Your request has been taken care of. Is there anything else I can help with?"
    return "Here is what I found: " + "; ".join(infos) + "."


def import_task(raw: dict[str, Any], domain: str, *, split: str | None = None, ask: bool = False,
                worlds: Tau2Worlds = WORLDS, tools: list[ToolSpec] | None = None,
                policy: list[str] | None = None) -> Task:
    """One τ² task dict → Task (see the module docstring for the mapping)."""
    require_tau2()
    from pydantic import ValidationError
    from tau2.data_model.tasks import Task as Tau2Task

    tid = raw.get("id", "?")
    try:
        parsed = Tau2Task.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Tau2FormatError(f"τ² {domain} task {tid}: field {where}: {first['msg']}", field=where) from err
    tools = tools if tools is not None else tool_specs(domain, worlds)
    if policy is None:
        policy = split_policy(worlds.describe(domain)[0])
    kinds = {t.name: t.kind for t in tools}

    instructions = parsed.user_scenario.instructions
    if isinstance(instructions, str):  # the mock domain's free-text instructions
        reason, known, unknown = instructions, None, None
    else:
        reason, known, unknown = instructions.reason_for_call, instructions.known_info, instructions.unknown_info
    instruction = opening_message(reason)
    slots = [s for s in parse_ledger(known, unknown) if str(s.value).lower() not in instruction.lower()]

    criteria = parsed.evaluation_criteria
    basis = [str(getattr(b, "value", b)) for b in criteria.reward_basis] if criteria else []
    actions = list(criteria.actions or []) if criteria else []
    agent_actions = [a for a in actions if a.requestor == "assistant"]
    infos = list(criteria.communicate_info or []) if criteria else []
    nl = list(criteria.nl_assertions or []) if criteria else []

    rubric = Rubric()
    if criteria is not None and "DB" in basis and (criteria.actions is not None or criteria.env_assertions is not None):
        rubric.forbidden.append(RubricItem(
            id="tau2-db",
            criterion="Leaving the database in a state other than the one τ²'s reference actions produce "
                      "(τ²'s DB check: the final database hash).",
            check=make_check(DB_MATCH, {"actions": [{"name": a.name, "arguments": a.arguments,
                                                     "requestor": a.requestor} for a in actions]})))
    if criteria is not None and "ENV_ASSERTION" in basis:
        for i, assertion in enumerate(criteria.env_assertions or [], start=1):
            dumped = assertion.model_dump(mode="json")
            rubric.forbidden.append(RubricItem(
                id=f"tau2-env-{i}",
                criterion=f"Ending with {assertion.func_name}({json.dumps(assertion.arguments, sort_keys=True)}) "
                          f"not {assertion.assert_value} on the {assertion.env_type} side"
                          + (f" ({assertion.message})" if assertion.message else "") + ".",
                check=make_check(ENV_ASSERTION, {"assertion": dumped})))
    for action in agent_actions:
        if kinds.get(action.name) != "write" and "ACTION" not in basis:
            continue
        shown = {k: v for k, v in action.arguments.items() if action.compare_args is None or k in action.compare_args}
        rubric.subgoals.append(RubricItem(
            id=f"tau2-action-{action.action_id}",
            criterion=f"The agent calls {action.name} with {json.dumps(shown, sort_keys=True)}.",
            check=make_check(ACTION, {"name": action.name, "arguments": action.arguments,
                                      "compare_args": action.compare_args})))
    if "COMMUNICATE" in basis:
        for i, info in enumerate(infos, start=1):
            rubric.subgoals.append(RubricItem(id=f"tau2-communicate-{i}",
                                              criterion=f"The agent tells the user {info!r}.",
                                              check=make_check(COMMUNICATED, {"info": info})))
    if "NL_ASSERTION" in basis:
        for i, assertion in enumerate(nl, start=1):
            rubric.subgoals.append(RubricItem(id=f"tau2-nl-{i}", criterion=assertion))

    gold = [GoldAction(kind="call", tool=a.name, arguments=a.arguments) for a in agent_actions]
    gold.append(GoldAction(kind="answer", text=_answer_text(infos if "COMMUNICATE" in basis else [])))

    task = Task(
        domain=domain_name(domain),
        instruction=instruction,
        full_instruction=first_person(reason),
        tools=tools,
        policy=policy,
        private_info=slots,
        user_background=_scenario_text(raw["user_scenario"]),
        rubric=rubric,
        gold=gold,
        difficulty=_difficulty(len(actions)),
        source=Source(generator=f"tau2/{domain}", params={"split": split} if split else {}),
        world=Tau2World(domain=domain, task_id=parsed.id, initial_state=raw.get("initial_state") or None),
        metadata={"tau2_id": parsed.id, "tau2_domain": domain, "tau2_reward_basis": basis,
                  "tau2_nl_assertions": nl, "tau2_task": raw,
                  # some τ² tasks need more agent turns than our default limit (airline 44: 20 gold calls)
                  "min_turns": len(gold) + 4},
    )
    if ask:
        _add_information_gap(task)
    task.metadata["tau2_fingerprint"] = fingerprint(task)
    install_checks()
    return task.with_id()


def import_tasks(domain: str, split: str | None = "base", *, path: str | Path | None = None, ask: bool = False,
                 worlds: Tau2Worlds = WORLDS, on_reject: OnReject | None = None) -> list[Task]:
    """Every task of a τ² domain (its packaged task file, or `path`), in file order.

    Without `on_reject` the first bad task raises `Tau2FormatError`; with it, each bad task goes to
    `on_reject` as a `FormatError` (file, position in the file, field, reason) and the rest are imported."""
    tools = tool_specs(domain, worlds)
    policy = split_policy(worlds.describe(domain)[0])
    source = Path(path) if path is not None else task_file(domain)
    tasks = []
    for number, raw in numbered_raw_tasks(domain, split, path):
        try:
            if not isinstance(raw, dict):
                raise Tau2FormatError(f"τ² {domain} task #{number}: expected an object, got {type(raw).__name__}")
            tasks.append(import_task(raw, domain, split=split, ask=ask, worlds=worlds, tools=tools, policy=policy))
        except Tau2FormatError as err:
            if on_reject is None:
                raise
            on_reject(FormatError(source, number, err.field, str(err)))
    return tasks


# ------------------------------------------------------------------------ information-gap variant


def _uses(arguments: dict[str, Any] | None, value: Any) -> bool:
    return bool(arguments) and any(str(v).lower() == str(value).lower() for v in arguments.values())


def _add_information_gap(task: Task) -> None:
    """Ask before using an identifier, confirm before each write; rubric items for both."""
    from synthagent.spec.models import Check

    plan: list[GoldAction] = []
    asked: set[str] = set()
    asked_slots = []
    kinds = {t.name: t.kind for t in task.tools}
    # a question must single out its slot: two slots of one kind (a user with two ZIP codes) are not asked for
    counts: dict[str, int] = {}
    for slot in task.private_info:
        if slot.keywords:
            counts[slot.keywords[0]] = counts.get(slot.keywords[0], 0) + 1
    askable = [s for s in task.private_info if s.required and s.keywords and counts[s.keywords[0]] == 1]
    for action in task.gold:
        if action.kind == "call":
            for slot in askable:
                if slot.name not in asked and _uses(action.arguments, slot.value):
                    asked.add(slot.name)
                    asked_slots.append(slot)
                    plan.append(GoldAction(kind="ask", slot=slot.name,
                                           text=f"Could you please tell me your {slot.keywords[0]}?"))
            if kinds.get(action.tool or "") == "write":
                values = ", ".join(f"{k} = {v}" for k, v in (action.arguments or {}).items())
                plan.append(GoldAction(kind="confirm", tool=action.tool,
                                       text=f"I will call {action.tool} with {values}. Shall I proceed?"))
        plan.append(action)
    task.gold = plan
    for slot in asked_slots:
        task.rubric.interactions.append(RubricItem(
            id=f"ask-{slot.name}", criterion=f"The agent asks the user for {slot.description} before using it.",
            check=Check(op="revealed_before_use", args={"slot": slot.name, "value": slot.value})))
    if any(kinds.get(a.tool or "") == "write" for a in plan if a.kind == "call"):
        task.rubric.forbidden.append(RubricItem(
            id="unconfirmed-write", criterion="Changing the database without the user's explicit confirmation.",
            check=Check(op="confirmed_writes", args={})))
