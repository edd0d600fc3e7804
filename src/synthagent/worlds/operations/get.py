"""`get`: read one record by its key. It is also what a *lookup* sub-goal runs, so it owns the lookup's
record choice, phrase, gold call and rubric item (the answer must name the value, and only that value)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Literal

from synthagent.spec.models import Check, GoldAction, RubricItem, ToolSpec
from synthagent.worlds.operations.base import Database, Operation, Outcome, TableRuntime, dumps, make_tool_spec, \
    pick_record, record_schema, string_schema
from synthagent.worlds.plan import Subgoal, fmt
from synthagent.worlds.spec_parts import Lookup, ToolDef

if TYPE_CHECKING:
    from synthagent.worlds.domain_spec import Domain


class GetTool(ToolDef):
    op: Literal["get"]


class GetRuntime(TableRuntime):
    pass


class Get(Operation):
    name = "get"
    tool_model = GetTool
    runtime_model = GetRuntime

    def tool_spec(self, domain: "Domain", tool: GetTool) -> ToolSpec:
        ent = domain.entities[tool.entity]
        return make_tool_spec(tool.name, tool.description, {ent.key: string_schema(f"The {ent.label}.")},
                              record_schema(ent), "read")

    def execute(self, rt: GetRuntime, db: Database, args: dict[str, Any]) -> Outcome:
        out = Outcome()
        key = args[rt.key]
        rec = rt.record(db, key, out)
        if rec is not None:
            out.content = dumps(rt.full(key, rec))
        return out

    # ---- lookup sub-goals

    def plan_lookup(self, domain: "Domain", db: Database, owner_key: str, lookup: Lookup, used: set[str],
                    rng: random.Random) -> Subgoal | None:
        tool = domain.tool(lookup.tool)
        key = pick_record(db, domain.entities[tool.entity], tool.entity, owner_key, used, rng)
        if key is None:
            return None
        return Subgoal(kind="lookup", tool=tool, record_key=key, field=lookup.field, goal=lookup.goal)

    def lookup_text(self, sg: Subgoal, ref: str) -> str:
        return sg.goal.format(ref=ref, field=sg.field)

    def lookup_value(self, sg: Subgoal, db: Database) -> str:
        assert sg.record_key is not None and sg.field is not None
        return fmt(db[sg.tool.entity][sg.record_key][sg.field])

    def lookup_steps(self, domain: "Domain", sg: Subgoal, db: Database) -> tuple[list[GoldAction], str]:
        """The gold call, and what the final answer reports."""
        call = GoldAction(kind="call", tool=sg.tool.name, arguments={domain.entities[sg.tool.entity].key: sg.record_key})
        assert sg.field is not None
        return [call], f"the {sg.field.replace('_', ' ')} of {sg.record_key} is {self.lookup_value(sg, db)}"

    def lookup_rubric_item(self, domain: "Domain", sg: Subgoal, db: Database, answers: list[str],
                           item_id: str) -> RubricItem:
        """The answer must contain the value; the other lookups' answers are expected too, any other
        candidate value of the field means the agent offered a list instead of committing."""
        assert sg.field is not None
        value = self.lookup_value(sg, db)
        others = [a for a in answers if a != value]
        return RubricItem(
            id=item_id, criterion=f"The agent tells the user the {sg.field.replace('_', ' ')} of "
            f"{sg.record_key} ({value}), a value it obtained in this episode, committing to it.",
            check=Check(op="answer_contains", args={
                "values": [value], "alternatives": alternatives(domain, db, sg.tool.entity, sg.field, [value, *others]),
                **({"expected": others} if others else {})}))


def alternatives(domain: "Domain", db: Database, table: str, field: str, expected: list[str]) -> list[str]:
    """The other candidate answers for a looked-up field: the field's other choices in the domain, and the
    values it has in the other records of the world. An answer naming one of them besides the true value
    offers a list instead of committing (docs/rubrics.md, "Grounded answers")."""
    fspec = domain.entities[table].fields.get(field)
    choices = (fspec.values or []) if fspec is not None else []
    pool = [fmt(v) for v in choices] + [fmt(rec.get(field)) for _, rec in sorted(db[table].items())
                                        if rec.get(field) is not None]
    skip = {e.lower() for e in expected}
    return sorted({p for p in pool if p.lower() not in skip})


OPERATION = Get()
