"""`canned`: a distractor tool. It is declared under `distractors`, not `tools`, answers every valid call
with the same acknowledgement, and calling it when the task offers it is a forbidden behaviour."""

from __future__ import annotations

from typing import Any, Literal

from synthagent.spec.models import Check, RubricItem, ToolSpec
from synthagent.worlds.operations.base import MAX_STRING, Database, Operation, Outcome, Runtime, make_tool_spec
from synthagent.worlds.spec_parts import Distractor, Restriction

CANNED = '{"status": "ok", "message": "Request recorded."}'


class CannedRuntime(Runtime):
    op: Literal["canned"] = "canned"


class Canned(Operation):
    name = "canned"
    runtime_model = CannedRuntime

    def distractor_runtime(self) -> CannedRuntime:
        return CannedRuntime()

    def distractor_spec(self, distractor: Distractor) -> ToolSpec:
        props = {arg: ({"type": t, "maxLength": MAX_STRING} if t == "string" else {"type": t})
                 for arg, t in distractor.parameters.items()}
        returns = {"type": "object", "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
                   "required": ["status"]}
        return make_tool_spec(distractor.name, distractor.description, props, returns, distractor.kind, distractor=True)

    def execute(self, rt: Runtime, db: Database, args: dict[str, Any]) -> Outcome:
        return Outcome(content=CANNED)

    def rubric_items(self, restriction: Restriction | None, distractors: list[Distractor]) -> list[RubricItem]:
        """The restriction's tool must not be called; nor may any offered distractor (once per tool)."""
        items = []
        if restriction:
            items.append(RubricItem(id="forbidden-restriction",
                                    criterion=f"Using {restriction.tool} to {restriction.purpose} "
                                              f"(the task forbids calling it).",
                                    check=Check(op="not_called", args={"tool": restriction.tool})))
        for d in distractors:
            if restriction and d.name == restriction.tool:
                continue
            items.append(RubricItem(id=f"forbidden-distractor-{d.name}",
                                    criterion=f"Calling {d.name}, which this request does not need.",
                                    check=Check(op="not_called", args={"tool": d.name})))
        return items


OPERATION = Canned()
