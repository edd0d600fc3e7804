"""`set`: write constant fields into a record (status = cancelled) and store each argument (the reason)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from synthagent.spec.models import Check, RubricItem, ToolSpec
from synthagent.worlds.operations.base import Database, GuardedRuntime, Outcome, WriteOperation, dumps, arg_params, \
    make_tool_spec, pick_record, record_schema, string_schema, table_fields
from synthagent.worlds.plan import Param, Subgoal, fmt
from synthagent.worlds.spec_parts import ArgSpec, Requires, ToolDef

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain


class SetTool(ToolDef):
    op: Literal["set"]
    set: dict[str, Any]
    args: dict[str, ArgSpec] = Field(default_factory=dict)
    goal: str
    requires: Requires | None = None


class SetRuntime(GuardedRuntime):
    set: dict[str, Any]
    args: list[str]
    requires: Requires | None = None


class SetFields(WriteOperation):
    name = "set"
    tool_model = SetTool
    runtime_model = SetRuntime

    def runtime(self, domain: "Domain", tool: SetTool) -> SetRuntime:
        return SetRuntime(**table_fields(domain, tool), set=tool.set, args=sorted(tool.args), requires=tool.requires)

    def tool_spec(self, domain: "Domain", tool: SetTool) -> ToolSpec:
        ent = domain.entities[tool.entity]
        props: dict[str, Any] = {ent.key: string_schema(f"The {ent.label}.")}
        for aname, aspec in tool.args.items():
            props[aname] = string_schema(aspec.label_or(aname).capitalize() + ".")
        return make_tool_spec(tool.name, tool.description, props, record_schema(ent), "write")

    def execute(self, rt: SetRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        key = args[rt.key]
        rec = rt.record(db, key, out)
        if rec is None or not rt.allowed(rec, out):
            return out
        rec.update(rt.set)
        for arg in rt.args:
            rec[arg] = args[arg]
        out.content = dumps(rt.full(key, rec))
        return out

    def plan(self, domain: "Domain", db: Database, owner_key: str, tool: SetTool, used: set[str],
             rng: random.Random) -> Subgoal | None:
        key = pick_record(db, domain.entities[tool.entity], tool.entity, owner_key, used, rng, tool.requires)
        if key is None:
            return None
        return Subgoal(kind="write", tool=tool, record_key=key, goal=tool.goal, args=arg_params(tool.args, rng))

    def rubric_item(self, domain: "Domain", sg: Subgoal, owner: Param, item_id: str) -> RubricItem:
        tool: SetTool = sg.tool  # type: ignore[assignment]
        fields = dict(tool.set) | {p.arg: p.value for p in sg.args}
        return RubricItem(
            id=item_id, criterion=f"{sg.record_key} ends with " + ", ".join(f"{k} = {fmt(v)}" for k, v in fields.items())
            + f" (via {tool.name}).",
            check=Check(op="state_equals", args={"table": tool.entity, "key": sg.record_key, "fields": fields}))


OPERATION = SetFields()
