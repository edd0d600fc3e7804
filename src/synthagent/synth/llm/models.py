"""Typed inputs and outputs of the synthesis stages A–F.

Every stage boundary is a pydantic model, so what one stage hands the next is validated, serialisable
(the per-task state on disk is these models' JSON) and documented in one place. The models that parse
teacher output are deliberately lenient about *shape variants* real models produce (``outputs`` inside
``function``, ``returns`` instead of ``outputs``) and strict about *content*; content rules that need
context (a restriction must name one of the task's tools) live in the stage modules.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from synthagent.spec.models import FunctionDef, PrivateSlot, Scalar, ToolSpec

STAGES: tuple[str, ...] = ("A", "B", "C", "P", "D", "E", "F")
"""In pipeline order; P (policy tree) runs only with ``SynthOptions.policy_trees`` and discards nothing otherwise."""
STAGE_NAMES: dict[str, str] = {"A": "task", "B": "underspecify", "C": "toolcheck", "P": "policy_tree", "D": "solve",
                               "E": "rubric", "F": "gate"}
TOOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
SLOT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class _Lenient(BaseModel):
    """Teacher output: unknown keys are ignored (models add commentary fields), known ones are checked."""

    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------- units


class Unit(_Strict):
    """One unit of work: a persona and a seed; its id is sha256(persona, seed), stable across runs."""

    index: int
    persona: str
    seed: int
    id: str


# ------------------------------------------------------------------------------------------- A: task


class FunctionBody(_Lenient):
    name: str
    description: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not TOOL_NAME.fullmatch(value):
            raise ValueError(f"tool name {value!r} is not an identifier (letters, digits, _; at most 64)")
        return value

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError("parameters must be a JSON Schema with \"type\": \"object\"")
        if not isinstance(value.get("properties", {}), dict):
            raise ValueError("parameters.properties must be an object")
        return value


class ToolDef(_Lenient):
    """An OpenAI function definition plus the paper's ``outputs`` schema and our read/write ``kind``."""

    type: Literal["function"] = "function"
    function: FunctionBody
    outputs: dict[str, Any]
    kind: Literal["read", "write"] = "read"

    @model_validator(mode="before")
    @classmethod
    def _outputs_variants(cls, data: Any) -> Any:
        """Accept ``outputs`` (or ``returns``) beside or inside ``function``: both shapes occur in the wild."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        function = data.get("function")
        if "outputs" not in data:
            if "returns" in data:
                data["outputs"] = data.pop("returns")
            elif isinstance(function, dict):
                for key in ("outputs", "returns"):
                    if key in function:
                        function = dict(function)
                        data["outputs"] = function.pop(key)
                        data["function"] = function
                        break
        if isinstance(data.get("kind"), str):
            data["kind"] = data["kind"].strip().lower()
        return data

    @field_validator("outputs")
    @classmethod
    def _schema_object(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value or "type" not in value:
            raise ValueError("outputs must be a JSON Schema with a \"type\"")
        return value

    @property
    def name(self) -> str:
        return self.function.name

    def spec(self, *, distractor: bool = False) -> ToolSpec:
        fn = self.function
        return ToolSpec(function=FunctionDef(name=fn.name, description=fn.description, parameters=fn.parameters),
                        returns=self.outputs, kind=self.kind, distractor=distractor)


class TaskDesign(_Lenient):
    """Stage A's output: the full task, its tool ecosystem, one restriction and a 5–7 step workflow."""

    domain: str = Field(min_length=1, max_length=64)
    task: str = Field(min_length=20)
    tools: list[ToolDef]
    restriction: str
    workflow: list[str]
    restricted_tool: str = ""
    """Filled in by stage A's parser: the tool the restriction names."""

    @field_validator("domain")
    @classmethod
    def _slug(cls, value: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
        if not slug:
            raise ValueError("domain must contain letters or digits")
        return slug

    @field_validator("workflow")
    @classmethod
    def _steps(cls, value: list[str]) -> list[str]:
        steps = [re.sub(r"^\s*(?:step\s*)?\d+\s*[.):-]\s*", "", s, flags=re.IGNORECASE).strip() for s in value]
        if any(not s for s in steps):
            raise ValueError("workflow steps must not be empty")
        return steps


# ---------------------------------------------------------------------------------- B: underspecify


class LedgerSlot(_Lenient):
    name: str
    value: Scalar
    description: str = ""
    required: bool = True
    keywords: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _snake(cls, value: str) -> str:
        value = value.strip()
        if not SLOT_NAME.fullmatch(value):
            raise ValueError(f"slot name {value!r} is not snake_case")
        return value

    @field_validator("value")
    @classmethod
    def _non_empty(cls, value: Scalar) -> Scalar:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("value must not be empty")
        return value

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: list[str]) -> list[str]:
        return [k.strip().lower() for k in value if isinstance(k, str) and k.strip()]

    def private_slot(self) -> PrivateSlot:
        keywords = self.keywords or [w for w in self.name.split("_") if len(w) > 2] or [self.name]
        return PrivateSlot(name=self.name, value=self.value, description=self.description,
                           required=self.required, keywords=keywords)


class Rewrite(_Lenient):
    """Stage B's output: the one-sentence instruction, the hidden background, the typed ledger."""

    instruction: str = Field(min_length=8)
    background: str = Field(min_length=20)
    ledger: list[LedgerSlot]


# ------------------------------------------------------------------------------------ C: tool check


class RemovedTool(_Lenient):
    name: str
    reason: str = ""


class ToolCheck(_Lenient):
    """Stage C's output: the kept (possibly simplified) tools, what was removed and why, the distractors."""

    tools: list[ToolDef]
    removed: list[RemovedTool] = Field(default_factory=list)
    distractors: list[ToolDef]

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self.tools] + [t.spec(distractor=True) for t in self.distractors]


# ------------------------------------------------------------------------------------------ D: solve


class RunSummary(_Strict):
    termination: str
    agent_turns: int
    tool_calls: int
    user_turns: int
    answered: bool
    tool_results: int  # tool calls whose result was not an error

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usable(self) -> bool:
        """Answered after at least one tool call that worked: the runs stages D and E accept."""
        return self.answered and self.tool_results > 0


# ----------------------------------------------------------------------------------------- E: rubric


def _respell(data: Any, spellings: dict[str, tuple[str, ...]]) -> Any:
    """Teacher models vary key names ("behavior", "must_ask"); map the usual variants to ours."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for ours, variants in spellings.items():
        if ours not in out:
            found = next((v for v in variants if v in out), None)
            if found is not None:
                out[ours] = out[found]
    return out


class ForbiddenItem(_Lenient):
    """A behaviour that fails the task. `tool` is set only when *any* call of that tool is the behaviour
    (it then compiles to a `not_called` check); `indicators` say what a violation looks like."""

    behaviour: str = Field(min_length=3)
    indicators: str = ""
    tool: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _spelling(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"behaviour": data}
        return _respell(data, {"behaviour": ("behavior", "criterion", "description", "definition"),
                               "indicators": ("violation_indicators", "violation")})


class SubgoalItem(_Lenient):
    """One workflow step as a sub-goal. `tool` names the tool whose call completes it, where one does (a
    call with the user's values then compiles to a `called` check)."""

    goal: str = Field(min_length=3)
    requirement: str = ""
    completion: str = Field(min_length=3)
    tool: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _spelling(cls, data: Any) -> Any:
        return _respell(data, {"completion": ("completion_criteria", "complete_when")})


class InteractionItem(_Lenient):
    """A required user interaction in the authors' four columns: the information needed (`ask`), what the
    assistant must ask (`question`), what counts as a sufficient answer, what premature action looks like."""

    ask: str = Field(min_length=3)
    slot: str | None = None
    question: str = Field(min_length=3)
    sufficient: str = Field(min_length=3)
    premature: str = Field(min_length=3)

    @model_validator(mode="before")
    @classmethod
    def _spelling(cls, data: Any) -> Any:
        return _respell(data, {"ask": ("information", "information_needed", "need"),
                               "question": ("must_ask", "what_to_ask"),
                               "sufficient": ("sufficiency", "sufficiency_criteria"),
                               "premature": ("premature_action", "premature_action_indicators")})


class RubricDraft(_Lenient):
    """Stage E's output: the alignment verdict, the three rubric parts and the best run (1-based)."""

    verdict: Literal["KEEP", "DISCARD"]
    reason: str = Field(min_length=3)
    best_run: int | None = None
    forbidden: list[ForbiddenItem] = Field(default_factory=list)
    subgoals: list[SubgoalItem] = Field(default_factory=list)
    interactions: list[InteractionItem] = Field(default_factory=list)

    @field_validator("verdict", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


# ------------------------------------------------------------------------------------- rejections


class SynthRejection(_Strict):
    """A persona-seed unit that did not become a task, and exactly why: nothing is discarded silently.

    ``attempts`` keeps the parse reason of every rejected reply on the way (the first try and the repair);
    ``usage`` what the unit cost up to here, per stage and role, so the summary can charge discards too.
    """

    id: str
    index: int
    persona: str
    seed: int
    stage: str
    stage_name: str
    kind: str
    reason: str
    attempts: list[str] = Field(default_factory=list)
    domain: str | None = None
    usage: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)
    repairs: list[dict[str, str]] = Field(default_factory=list)
