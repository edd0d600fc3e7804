"""`update`: change one field of a record to a new value the user wants (a new address, a new date)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from synthagent.spec.models import Check, RubricItem, ToolSpec
from synthagent.worlds.operations.base import Database, GuardedRuntime, Outcome, WriteOperation, dumps, field_schema, \
    make_tool_spec, pick_record, record_schema, string_schema, table_fields
from synthagent.worlds.plan import Param, Subgoal, fmt
from synthagent.worlds.spec_parts import Requires, ToolDef, domain_error

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain

REDRAWS = 10  # tries for a new value that differs from the current one


class UpdateTool(ToolDef):
    op: Literal["update"]
    field: str
    arg: str
    keywords: list[str] = Field(default_factory=list)
    goal: str
    goal_hidden: str | None = None
    requires: Requires | None = None


class UpdateRuntime(GuardedRuntime):
    field: str
    arg: str
    requires: Requires | None = None


class UpdateField(WriteOperation):
    name = "update"
    tool_model = UpdateTool
    runtime_model = UpdateRuntime

    def check(self, domain: "Domain", tool: UpdateTool, path: str) -> None:
        if tool.field not in domain.entities[tool.entity].fields:
            raise domain_error(domain.name, f"{path}.field", f"unknown field {tool.field!r}")
        super().check(domain, tool, path)

    def runtime(self, domain: "Domain", tool: UpdateTool) -> UpdateRuntime:
        return UpdateRuntime(**table_fields(domain, tool), field=tool.field, arg=tool.arg, requires=tool.requires)

    def tool_spec(self, domain: "Domain", tool: UpdateTool) -> ToolSpec:
        ent = domain.entities[tool.entity]
        fspec = ent.fields[tool.field]
        props = {ent.key: string_schema(f"The {ent.label}."),
                 tool.arg: field_schema(fspec, f"The new {fspec.label_or(tool.field)}.")}
        return make_tool_spec(tool.name, tool.description, props, record_schema(ent), "write")

    def execute(self, rt: UpdateRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        key = args[rt.key]
        rec = rt.record(db, key, out)
        if rec is None or not rt.allowed(rec, out):
            return out
        rec[rt.field] = args[rt.arg]
        out.content = dumps(rt.full(key, rec))
        return out

    def plan(self, domain: "Domain", db: Database, owner_key: str, tool: UpdateTool, used: set[str],
             rng: random.Random) -> Subgoal | None:
        ent = domain.entities[tool.entity]
        key = pick_record(db, ent, tool.entity, owner_key, used, rng, tool.requires)
        if key is None:
            return None
        fspec = ent.fields[tool.field]
        current = db[tool.entity][key][tool.field]
        new = fspec.draw(rng)
        for _ in range(REDRAWS):
            if new != current:
                break
            new = fspec.draw(rng)
        if new == current:
            return None
        value = Param(tool.arg, new, f"new {fspec.label_or(tool.field)}", tool.keywords)
        return Subgoal(kind="write", tool=tool, record_key=key, goal=tool.goal, args=[value])

    def goal_text(self, sg: Subgoal, ref: str, full: bool) -> str:
        """'have {ref} shipped to {value}', or `goal_hidden` while the new value is the user's secret."""
        tool: UpdateTool = sg.tool  # type: ignore[assignment]
        value = sg.args[0]
        text = sg.goal
        if value.hidden and not full:
            text = tool.goal_hidden if tool.goal_hidden is not None else text.replace(" {value}", "").replace("{value}", "")
        return text.format(ref=ref, value=fmt(value.value))

    def rubric_item(self, domain: "Domain", sg: Subgoal, owner: Param, item_id: str) -> RubricItem:
        tool: UpdateTool = sg.tool  # type: ignore[assignment]
        new = sg.args[0].value
        return RubricItem(id=item_id, criterion=f"{sg.record_key} ends with {tool.field} = {fmt(new)}.",
                          check=Check(op="state_equals", args={"table": tool.entity, "key": sg.record_key,
                                                               "fields": {tool.field: new}}))


OPERATION = UpdateField()
