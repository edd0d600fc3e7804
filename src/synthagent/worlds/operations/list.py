"""`list`: the owner's records of one owned entity, with the `show` fields. No gold plan needs it, which
is what makes it a good restriction ("must NOT be used to guess which order the customer means")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from synthagent.spec.models import ToolSpec
from synthagent.worlds.operations.base import Database, Operation, Outcome, TableRuntime, dumps, make_tool_spec, \
    string_schema, table_fields
from synthagent.worlds.spec_parts import ToolDef, domain_error

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain


class ListTool(ToolDef):
    op: Literal["list"]
    show: list[str] = Field(default_factory=list)


class ListRuntime(TableRuntime):
    show: list[str]


class ListRecords(Operation):
    name = "list"
    tool_model = ListTool
    runtime_model = ListRuntime

    def check(self, domain: "Domain", tool: ListTool, path: str) -> None:
        ent = domain.entities[tool.entity]
        if not ent.owned:
            raise domain_error(domain.name, f"{path}.entity", "list needs an owned entity")
        for i, fname in enumerate(tool.show):
            if fname not in ent.fields:
                raise domain_error(domain.name, f"{path}.show[{i}]", f"unknown field {fname!r}")

    def runtime(self, domain: "Domain", tool: ListTool) -> ListRuntime:
        return ListRuntime(**table_fields(domain, tool), show=list(tool.show))

    def tool_spec(self, domain: "Domain", tool: ListTool) -> ToolSpec:
        ent = domain.entities[tool.entity]
        owner = domain.owner_entity
        item = {"type": "object", "properties": {ent.key: {"type": "string"}} | {
            f: {"type": ent.fields[f].json_type} for f in tool.show}}
        returns = {"type": "object", "properties": {"items": {"type": "array", "items": item}}, "required": ["items"]}
        return make_tool_spec(tool.name, tool.description, {owner.key: string_schema(f"The {owner.label}.")}, returns,
                              "read")

    def execute(self, rt: ListRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        owner = args[rt.owner_key]
        if owner not in db.get(rt.owner_table, {}):
            return out.fail(f"{rt.owner_table} '{owner}' not found")
        out.owners = (owner,)
        items = [{rt.key: k, **{f: r.get(f) for f in rt.show}}
                 for k, r in db[rt.table].items() if r.get(rt.owner_field) == owner]
        out.content = dumps({"items": items})
        return out


OPERATION = ListRecords()
