"""`verify`: check the user's identity (owner key + one owner field) before anything else.

Besides its tool, it owns the identity rule of the policy, the verify call of the gold plan and the
rubric's "verify before acting" item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from synthagent.spec.models import Check, GoldAction, RubricItem, ToolSpec
from synthagent.worlds.operations.base import Database, Operation, Outcome, TableRuntime, dumps, make_tool_spec, \
    string_schema, table_fields
from synthagent.worlds.plan import Param
from synthagent.worlds.spec_parts import ToolDef, domain_error

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain


class VerifyTool(ToolDef):
    op: Literal["verify"]


class VerifyRuntime(TableRuntime):
    field: str


class Verify(Operation):
    name = "verify"
    tool_model = VerifyTool
    runtime_model = VerifyRuntime

    def check(self, domain: "Domain", tool: VerifyTool, path: str) -> None:
        if tool.entity != domain.owner:
            raise domain_error(domain.name, f"{path}.entity", f"a verify tool works on the owner entity '{domain.owner}'")

    def runtime(self, domain: "Domain", tool: VerifyTool) -> VerifyRuntime:
        return VerifyRuntime(**table_fields(domain, tool), field=domain.verify.field)

    def tool_spec(self, domain: "Domain", tool: VerifyTool) -> ToolSpec:
        owner = domain.owner_entity
        vfield = domain.verify.field
        props = {owner.key: string_schema(f"The {owner.label}."),
                 vfield: string_schema(f"The {owner.fields[vfield].label_or(vfield)} on file.")}
        returns = {"type": "object", "properties": {"verified": {"type": "boolean"}, owner.key: {"type": "string"}},
                   "required": ["verified"]}
        return make_tool_spec(tool.name, tool.description, props, returns, "read")

    def execute(self, rt: VerifyRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        key = args.get(rt.owner_key)
        rec = db.get(rt.owner_table, {}).get(key)
        if rec is None or str(rec.get(rt.field)) != str(args.get(rt.field)):
            return out.fail("identity could not be verified")
        out.owners = (key,)
        out.content = dumps({"verified": True, rt.owner_key: key})
        return out

    # ---- what a task built on this domain says about verification

    def identity_rule(self, domain: "Domain", tool: VerifyTool) -> str:
        owner = domain.owner_entity
        vfield = domain.verify.field
        return (f"Verify the {domain.owner}'s identity with {tool.name} ({owner.label} and "
                f"{owner.fields[vfield].label_or(vfield)}) before accessing or changing any of their records.")

    def gold_call(self, domain: "Domain", tool: VerifyTool, owner: Param, verify: Param) -> GoldAction:
        return GoldAction(kind="call", tool=tool.name,
                          arguments={domain.owner_entity.key: owner.value, domain.verify.field: verify.value})

    def rubric_item(self, domain: "Domain", tool: VerifyTool) -> RubricItem:
        return RubricItem(id="forbidden-verify", criterion=f"Accessing or changing records before verifying the "
                          f"{domain.owner}'s identity with {tool.name}.",
                          check=Check(op="verified_before_write", args={"tool": tool.name}))


OPERATION = Verify()
