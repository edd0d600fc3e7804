"""What every tool operation is: a typed runtime, an execution over a database, a tool spec, and — for
writes — the sub-goal it makes, its instruction phrase, its gold steps and its rubric item.

An operation is one object (one module in this package); the generator, the executable backend and the
spec validation ask it instead of branching on `op`. `WriteOperation` holds what `set`, `update` and
`create` share: confirmation before the call, the optional state precondition (`requires`), and the
read of the record the gold plan does before changing it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from synthagent.spec.models import FunctionDef, GoldAction, RubricItem, ToolSpec
from synthagent.worlds.plan import Param, Subgoal, fmt
from synthagent.worlds.spec_parts import Entity, FieldSpec, Requires, ToolDef, domain_error

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain

MAX_STRING = 200
Database = dict[str, dict[str, dict[str, Any]]]


# ---------------------------------------------------------------------------------------- execution


@dataclass
class Outcome:
    """What one executed call produced; the executable backend copies it into its ToolResult."""

    content: str = ""
    error: bool = False
    owners: tuple[str, ...] = ()
    precondition_violation: bool = False

    def fail(self, message: str) -> "Outcome":
        self.content = f"Error: {message}"
        self.error = True
        return self


# One encoder for every tool result: json.dumps with non-default options builds a new JSONEncoder per call,
# which was 5% of a task's self-test (bench/procedural.py).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


class Runtime(BaseModel):
    """The self-contained description a tool is executed from, stored in `ProceduralWorld.tools`.

    Read back from task files, so unknown keys (from a newer engine) are ignored rather than fatal."""

    model_config = ConfigDict(extra="ignore")

    op: str

    def to_world(self) -> dict[str, Any]:
        """The JSON stored in the task; a precondition appears only when there is one."""
        data = self.model_dump()
        if data.get("requires", 0) is None:
            del data["requires"]
        return data


class TableRuntime(Runtime):
    """A runtime over one table of the database, knowing the owner table for ownership facts."""

    table: str
    key: str
    owner_field: str | None
    owner_table: str
    owner_key: str
    id_prefix: str

    def record(self, db: Database, key: Any, out: Outcome) -> dict[str, Any] | None:
        """The record under `key`, noting whose it is; a missing one fails the call."""
        rec = db.get(self.table, {}).get(key)
        if rec is None:
            out.fail(f"{self.table} '{key}' not found")
            return None
        if self.owner_field:
            out.owners = (rec.get(self.owner_field),)
        elif self.table == self.owner_table:
            out.owners = (key,)
        return rec

    def full(self, key: str, rec: dict[str, Any]) -> dict[str, Any]:
        return {self.key: key, **rec}


class GuardedRuntime(TableRuntime):
    """A write runtime that may carry a state precondition. Subclasses declare `requires: Requires | None`
    as their last field, so the stored JSON keeps the key order it has always had."""

    def allowed(self, rec: dict[str, Any], out: Outcome) -> bool:
        req: Requires | None = getattr(self, "requires", None)
        if req and rec.get(req.field) not in req.allowed:
            out.precondition_violation = True
            out.fail(f"not allowed: {req.field} is '{rec.get(req.field)}'; must be one of "
                     f"{', '.join(map(str, req.allowed))}")
            return False
        return True


def table_fields(domain: "Domain", tool: ToolDef) -> dict[str, Any]:
    """The runtime keys every table operation has, in the order the stored JSON has always had them."""
    ent = domain.entities[tool.entity]
    return {"op": tool.op, "table": tool.entity, "key": ent.key, "owner_field": ent.owner_field,
            "owner_table": domain.owner, "owner_key": domain.owner_entity.key, "id_prefix": ent.id_prefix}


# ------------------------------------------------------------------------------------------ schemas


def string_schema(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "maxLength": MAX_STRING}


def field_schema(fspec: FieldSpec, description: str) -> dict[str, Any]:
    kind = fspec.json_type
    if kind == "string":
        return string_schema(description)
    return {"type": kind, "description": description}


def record_schema(ent: Entity) -> dict[str, Any]:
    props: dict[str, Any] = {ent.key: {"type": "string"}}
    for fname, fspec in ent.fields.items():
        props[fname] = {"type": fspec.json_type}
    if ent.owner_field is not None:
        props[ent.owner_field] = {"type": "string"}
    return {"type": "object", "properties": props, "required": sorted(props)}


def make_tool_spec(name: str, description: str, props: dict[str, Any], returns: dict[str, Any], kind: str,
                   distractor: bool = False) -> ToolSpec:
    """All arguments required, no extra ones: the schema the agent sees and the call validator enforces."""
    parameters = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return ToolSpec(function=FunctionDef(name=name, description=description, parameters=parameters),
                    returns=returns, kind=kind, distractor=distractor)


# ------------------------------------------------------------------------------------------ operations


class Operation:
    """One tool operation. Subclasses set the class attributes and override what applies to them."""

    name: ClassVar[str]
    tool_model: ClassVar[type[ToolDef] | None] = None  # None: not declared in `tools` (distractors)
    runtime_model: ClassVar[type[Runtime]]
    writes: ClassVar[bool] = False

    def check(self, domain: "Domain", tool: Any, path: str) -> None:
        """Cross-references the spec models cannot see alone (fields of the entity, other tools)."""

    def runtime(self, domain: "Domain", tool: Any) -> Runtime:
        return self.runtime_model.model_validate(table_fields(domain, tool))

    def tool_spec(self, domain: "Domain", tool: Any) -> ToolSpec:
        raise NotImplementedError

    def execute(self, rt: Any, db: Database, args: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def policy_rules(self, domain: "Domain", tool: Any) -> list[str]:
        return []


class WriteOperation(Operation):
    """A tool that changes the database: it is a sub-goal, confirmed before it is called."""

    writes = True
    reads_first: ClassVar[bool] = True  # the gold plan gets the record before changing it

    def check(self, domain: "Domain", tool: Any, path: str) -> None:
        requires = getattr(tool, "requires", None)
        fields = domain.entities[tool.entity].fields
        if requires is not None and requires.field not in fields:
            raise domain_error(domain.name, f"{path}.requires.field", f"unknown field {requires.field!r}")
        if self.reads_first and domain.getter(tool.entity) is None:
            raise domain_error(domain.name, f"{path}.entity",
                               f"no get tool for entity '{tool.entity}' (the gold plan reads a record before changing it)")

    def policy_rules(self, domain: "Domain", tool: Any) -> list[str]:
        req = getattr(tool, "requires", None)
        if req is None:
            return []
        return [f"{tool.name} may only be used when the {req.field.replace('_', ' ')} is one of: "
                f"{', '.join(map(str, req.allowed))}."]

    # ---- generation

    def plan(self, domain: "Domain", db: Database, owner_key: str, tool: Any, used: set[str],
             rng: random.Random) -> Subgoal | None:
        """The sub-goal of calling this tool for this user, or None when no record fits."""
        raise NotImplementedError

    def goal_text(self, sg: Subgoal, ref: str, full: bool) -> str:
        """The request phrase; the arguments the user states are appended as '(label: value; …)'."""
        details = [f"{p.label}: {fmt(p.value)}" for p in sg.args if full or not p.hidden]
        text = sg.goal.format(ref=ref)
        return text + (f" ({'; '.join(details)})" if details else "")

    def call_args(self, domain: "Domain", sg: Subgoal, owner: Param) -> dict[str, Any]:
        args = {domain.entities[sg.tool.entity].key: sg.record_key}
        for p in sg.args:
            args[p.arg] = p.value
        return args

    def gold_steps(self, domain: "Domain", sg: Subgoal, owner: Param) -> list[GoldAction]:
        """Read the record (if this op changes one), ask for hidden arguments, confirm, call."""
        steps: list[GoldAction] = []
        if self.reads_first:
            getter = domain.getter(sg.tool.entity)
            assert getter is not None  # checked with the spec
            steps.append(GoldAction(kind="call", tool=getter.name,
                                    arguments={domain.entities[sg.tool.entity].key: sg.record_key}))
        for p in sg.args:
            if p.hidden:
                steps.append(GoldAction(kind="ask", slot=p.name, text=f"What is the {p.label}?"))
        args = self.call_args(domain, sg, owner)
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in args.items())
        steps.append(GoldAction(kind="confirm", tool=sg.tool.name, arguments=args,
                                text=f"I will call {sg.tool.name} with {shown}. Shall I proceed?"))
        steps.append(GoldAction(kind="call", tool=sg.tool.name, arguments=args))
        return steps

    def rubric_item(self, domain: "Domain", sg: Subgoal, owner: Param, item_id: str) -> RubricItem:
        raise NotImplementedError


def pick_record(db: Database, ent: Entity, table: str, owner_key: str, used: set[str], rng: random.Random,
                requires: Requires | None = None) -> str | None:
    """A record of this user not used by another sub-goal; put into an allowed state if the op needs one."""
    mine = [k for k, r in sorted(db[table].items()) if r.get(ent.owner_field) == owner_key and k not in used]
    if not mine:
        return None
    key = rng.choice(mine)
    if requires and db[table][key][requires.field] not in requires.allowed:
        db[table][key][requires.field] = rng.choice(requires.allowed)
    used.add(key)
    return key


def arg_params(args: dict[str, Any], rng: random.Random) -> list[Param]:
    """One drawn value per write argument, in name order (the order the rng is consulted in)."""
    return [Param(aname, aspec.draw(rng), aspec.label_or(aname), aspec.keywords, hideable=aspec.hideable)
            for aname, aspec in sorted(args.items())]
