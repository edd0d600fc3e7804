"""`create`: add a new record for the owner from `defaults` and the arguments. There is no record before
the call, so no precondition and no read first; the rubric finds the new record by its values."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from synthagent.spec.models import Check, RubricItem, ToolSpec
from synthagent.worlds.operations.base import Database, Outcome, TableRuntime, WriteOperation, arg_params, dumps, \
    field_schema, make_tool_spec, record_schema, string_schema, table_fields
from synthagent.worlds.plan import Param, Subgoal, fmt
from synthagent.worlds.spec_parts import ArgSpec, ToolDef, domain_error

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain


class CreateTool(ToolDef):
    op: Literal["create"]
    args: dict[str, ArgSpec] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    goal: str
    requires: Any = None

    @field_validator("requires")
    @classmethod
    def _no_precondition(cls, requires: Any) -> None:
        if requires is not None:
            raise ValueError("create tools cannot have a precondition (there is no record yet)")
        return None


class CreateRuntime(TableRuntime):
    args: list[str]
    defaults: dict[str, Any]


class CreateRecord(WriteOperation):
    name = "create"
    tool_model = CreateTool
    runtime_model = CreateRuntime
    reads_first = False

    def check(self, domain: "Domain", tool: CreateTool, path: str) -> None:
        fields = domain.entities[tool.entity].fields
        for aname in tool.args:
            if aname not in fields:
                raise domain_error(domain.name, f"{path}.args.{aname}", f"not a field of entity '{tool.entity}'")
        super().check(domain, tool, path)

    def runtime(self, domain: "Domain", tool: CreateTool) -> CreateRuntime:
        return CreateRuntime(**table_fields(domain, tool), args=sorted(tool.args), defaults=tool.defaults)

    def tool_spec(self, domain: "Domain", tool: CreateTool) -> ToolSpec:
        owner = domain.owner_entity
        props: dict[str, Any] = {owner.key: string_schema(f"The {owner.label}.")}
        for aname, aspec in tool.args.items():
            props[aname] = field_schema(aspec, aspec.label_or(aname).capitalize() + ".")
        return make_tool_spec(tool.name, tool.description, props, record_schema(domain.entities[tool.entity]), "write")

    def execute(self, rt: CreateRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        owner = args[rt.owner_key]
        if owner not in db.get(rt.owner_table, {}):
            return out.fail(f"{rt.owner_table} '{owner}' not found")
        out.owners = (owner,)
        table = db.setdefault(rt.table, {})
        key = f"{rt.id_prefix}-N{len(table) + 1:05d}"
        rec = dict(rt.defaults)
        rec.update({a: args[a] for a in rt.args})
        if rt.owner_field:
            rec[rt.owner_field] = owner
        table[key] = rec
        out.content = dumps(rt.full(key, rec))
        return out

    def plan(self, domain: "Domain", db: Database, owner_key: str, tool: CreateTool, used: set[str],
             rng: random.Random) -> Subgoal | None:
        return Subgoal(kind="write", tool=tool, record_key=None, goal=tool.goal, args=arg_params(tool.args, rng))

    def call_args(self, domain: "Domain", sg: Subgoal, owner: Param) -> dict[str, Any]:
        args = {domain.owner_entity.key: owner.value}
        for p in sg.args:
            args[p.arg] = p.value
        return args

    def rubric_item(self, domain: "Domain", sg: Subgoal, owner: Param, item_id: str) -> RubricItem:
        table = sg.tool.entity
        ent = domain.entities[table]
        match = {ent.owner_field: owner.value} if ent.owner_field is not None else {}
        match |= {p.arg: p.value for p in sg.args}
        return RubricItem(
            id=item_id, criterion=f"A new {ent.noun if ent.noun is not None else table} exists with " + ", ".join(
                f"{k} = {fmt(v)}" for k, v in match.items()) + ".",
            check=Check(op="state_equals", args={"table": table, "match": match}))


OPERATION = CreateRecord()
