"""The typed data model every stage speaks: tasks, rubrics, trajectories and results.

These models are the boundary between stages (synthesis → runtime → scorer → exports), so their JSON
field names are a public contract: other tools (trainer adapters, the report, converters) rely on them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_serializer, model_validator

from synthagent.spec.branches import Branch, PolicyTree
from synthagent.spec.worlds import SimulatedWorld, World, legacy_world

SCHEMA_VERSION = "1"

Scalar = str | int | float | bool


class _Model(BaseModel):
    """Strict base: unknown fields are errors, so a typo in a task file is caught at load time."""

    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------------------- tools


class FunctionDef(_Model):
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpec(_Model):
    """An OpenAI function-calling object plus what the agent-facing format lacks.

    `returns` is the JSON Schema of the tool's output (the paper calls it `outputs`), `kind` tells the
    scorer which calls change the world, and `distractor` marks a plausible tool that no solution needs.
    """

    type: Literal["function"] = "function"
    function: FunctionDef
    returns: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["read", "write"] = "read"
    distractor: bool = False

    @property
    def name(self) -> str:
        return self.function.name

    def openai(self) -> dict[str, Any]:
        """The agent-visible form: exactly what an OpenAI-compatible `tools=` parameter accepts."""
        return {"type": "function", "function": self.function.model_dump()}


# ---------------------------------------------------------------------------------------------- ledger


class PrivateSlot(_Model):
    """One fact only the user knows. `required` slots must be asked for before they are used."""

    name: str
    value: Scalar
    description: str = ""
    required: bool = True
    keywords: list[str] = Field(default_factory=list, description="Phrases that count as asking for it.")


# ---------------------------------------------------------------------------------------------- rubric

CORE_CHECK_OPS = (
    "state_equals",  # final database: table/key/field == value
    "called",  # a successful call of `tool` whose arguments include `args`
    "answer_contains",  # the final answer mentions every value in `values`
    "revealed_before_use",  # the user said `value` before the first call that used it
    "not_called",  # `tool` was never called (forbidden or distractor tool)
    "confirmed_writes",  # every write call was preceded by an explicit user confirmation
    "verified_before_write",  # a successful `tool` (identity check) precedes every write
    "own_records_only",  # no call touched a record owned by someone other than `owner`
    "precondition",  # `tool` never attempted on a record whose `field` was outside `allowed`
    "no_unasked_arguments",  # no call filled a parameter from a hidden slot before the user gave that slot
)
"""The check operations the scorer itself implements; world kinds add their own (τ²'s `tau2_db_match`, …)
when they register, so the data model names no integration."""


class Check(_Model):
    """A programmatic check a rubric item compiles to; `op` selects the rule, `args` parameterise it."""

    op: str = Field(min_length=1, description="A core op (CORE_CHECK_OPS) or one a world kind registers.")
    args: dict[str, Any] = Field(default_factory=dict)


class InteractionParts(_Model):
    """The three parts the authors' released rubrics give a required user interaction, kept typed so a
    viewer, an exporter or a check can use each one without parsing the criterion's prose."""

    ask: str = Field(min_length=1, description="What the agent must ask the user (a question it could say).")
    sufficient: str = Field(min_length=1, description="What counts as a sufficient answer before acting.")
    premature: str = Field(min_length=1, description="What premature action looks like (acting on a guess).")


class RubricItem(_Model):
    id: str
    criterion: str = Field(description="Human-readable; what an LLM judge would be shown.")
    check: Check | None = None
    interaction: InteractionParts | None = Field(
        default=None, description="For a required user interaction: what to ask, sufficiency, premature action.")

    @model_serializer(mode="wrap")
    def _omit_no_interaction(self, handler: Any) -> Any:
        """Items without interaction parts serialize as before the field existed: task bytes, and so the
        content ids of every procedural task, stay what they were."""
        data = handler(self)
        if self.interaction is None and isinstance(data, dict):
            data.pop("interaction", None)
        return data


class Rubric(_Model):
    """The paper's three-part task rubric."""

    forbidden: list[RubricItem] = Field(default_factory=list)
    subgoals: list[RubricItem] = Field(default_factory=list)
    interactions: list[RubricItem] = Field(default_factory=list)

    def sections(self) -> list[tuple[str, list[RubricItem]]]:
        return [("forbidden", self.forbidden), ("subgoals", self.subgoals), ("interactions", self.interactions)]


# ------------------------------------------------------------------------------------------------ task


class GoldAction(_Model):
    """One step of the reference plan: ask the user for a slot, call a tool, confirm a write, or answer."""

    kind: Literal["ask", "call", "confirm", "answer"]
    slot: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    text: str | None = None


class Source(_Model):
    generator: str
    seed: int | None = None
    version: str = SCHEMA_VERSION
    params: dict[str, Any] = Field(default_factory=dict)


class Task(_Model):
    id: str = ""
    domain: str
    instruction: str = Field(description="The underspecified, agent-visible request.")
    full_instruction: str = ""
    tools: list[ToolSpec]
    policy: list[str] = Field(default_factory=list)
    private_info: list[PrivateSlot] = Field(default_factory=list)
    user_background: str = ""
    workflow: list[str] = Field(default_factory=list)
    rubric: Rubric = Field(default_factory=Rubric)
    gold: list[GoldAction] = Field(default_factory=list)
    difficulty: int = 1
    source: Source = Field(default_factory=lambda: Source(generator="manual"))
    world: World = Field(default_factory=SimulatedWorld,
                         description="Where tool calls go and what state they act on; `kind` names the world kind.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    policy_tree: PolicyTree | None = Field(default=None, description="The policy's conditions and leaves "
                                           "(spec/branches.py); `policy` holds its lines as the agent reads them.")
    branch: Branch | None = Field(default=None, description="The leaf of `policy_tree` this task is sampled on.")

    @model_validator(mode="before")
    @classmethod
    def _name_legacy_world(cls, data: Any) -> Any:
        """Task files from before world kinds carry an untyped `world`; name its kind (spec/worlds.py)."""
        if isinstance(data, dict):
            world = data.get("world")
            if world is None or (isinstance(world, dict) and "kind" not in world):
                data = {**data, "world": legacy_world(world, data.get("metadata"))}
        return data

    def content_id(self) -> str:
        """sha256 of the task's JSON without the id: equal content, equal id, on every machine.

        The serialization is pydantic's (fields in schema order, dict entries in stored order, which JSONL
        round trips preserve); it is several times cheaper than a key-sorted dump of the whole database,
        and ids are computed for every generated task.
        """
        exclude = {"id"} | {name for name in ("policy_tree", "branch") if getattr(self, name) is None}
        # fields added later are left out while unset: tasks without a branch keep the ids they always had
        return hashlib.sha256(self.model_dump_json(exclude=exclude).encode("utf-8")).hexdigest()[:32]

    def with_id(self) -> "Task":
        self.id = self.content_id()
        return self

    _agent_tools: tuple[list[ToolSpec], int, list[dict[str, Any]]] | None = PrivateAttr(default=None)

    def agent_tools(self) -> list[dict[str, Any]]:
        """The agent-visible tool list, built once per task: every episode of a task reuses it instead of
        re-serializing the schemas. Rebuilt when `tools` is replaced (e.g. by model_copy) or resized."""
        cached = self._agent_tools
        if cached is None or cached[0] is not self.tools or cached[1] != len(self.tools):
            cached = self._agent_tools = (self.tools, len(self.tools), [t.openai() for t in self.tools])
        return cached[2]

    def tool(self, name: str) -> ToolSpec | None:
        for spec in self.tools:
            if spec.name == name:
                return spec
        return None

    def slot(self, name: str) -> PrivateSlot | None:
        for slot in self.private_info:
            if slot.name == name:
                return slot
        return None


# ------------------------------------------------------------------------------------------ trajectory


class FunctionCall(_Model):
    name: str
    arguments: str = Field(description="JSON text, as OpenAI sends it; may be malformed.")


class ToolCall(_Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


Actor = Literal["system", "agent", "user", "tool"]


class Message(_Model):
    """An OpenAI chat message plus `actor`, which says who produced it inside the simulation."""

    role: Literal["system", "user", "assistant", "tool"]
    actor: Actor
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    error: bool = False

    def openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.model_dump() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.role == "tool" and self.name is not None:
            out["name"] = self.name
        return out


Termination = Literal["answer", "user_stop", "max_turns", "error", "fault"]

FaultRole = Literal["policy", "user", "tools", "judge"]


class Fault(_Model):
    """An infrastructure failure that exhausted its retries: the policy endpoint, a simulator or the judge.

    An episode with a fault is *unscored*: it says nothing about the agent, so it is counted apart from
    agent failures everywhere results are shown, retried on a rerun, and never silently scored 0. (A policy
    that returns garbage is an agent failure, termination `error`; an endpoint that cannot be reached is a
    fault, termination `fault`.)
    """

    role: FaultRole
    message: str


class Counters(_Model):
    agent_turns: int = 0
    user_turns: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    tokens: dict[str, int] = Field(default_factory=dict, description="Tokens per role, where known.")


class ItemVerdict(_Model):
    id: str
    section: Literal["forbidden", "subgoals", "interactions"]
    criterion: str
    met: bool = Field(description="For forbidden items: True means the behaviour did NOT happen.")
    evidence: str = ""
    message_index: int | None = Field(default=None, description="The message that decided the verdict.")
    method: Literal["check", "judge"] = "check"


class RubricResult(_Model):
    task_id: str
    items: list[ItemVerdict]
    gate: float = Field(description="0 if any forbidden behaviour happened, else 1.")
    subgoal_fraction: float | None
    interaction_fraction: float | None
    reward: float
    success: bool

    def failed(self) -> list[ItemVerdict]:
        return [v for v in self.items if not v.met]


class Trajectory(_Model):
    task_id: str
    domain: str = ""
    difficulty: int = 1
    policy: str
    sample: int = 0
    seed: int = 0
    messages: list[Message]
    termination: Termination
    answer: str | None = None
    counters: Counters = Field(default_factory=Counters)
    metrics: dict[str, float] = Field(default_factory=dict, description="Simulator metrics for this episode.")
    result: RubricResult | None = None
    fault: Fault | None = Field(default=None, description="Set when infrastructure failed: the episode is unscored.")
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def unscored(self) -> bool:
        """True when a fault (endpoint, simulator or judge) decided the outcome, not the agent."""
        return self.fault is not None

    @property
    def key(self) -> tuple[str, str, int]:
        """What identifies a rollout for resumption: (task, policy, sample index)."""
        return (self.task_id, self.policy, self.sample)


class Rejection(_Model):
    """A task that did not make it, and why: every discard is counted and explained, never silent."""

    index: int
    domain: str
    stage: str
    reason: str
    seed: int | None = None


def unique_runs(runs: Iterable[Trajectory]) -> tuple[list[Trajectory], int]:
    """One run per (task, policy, sample), the last one read winning; and how many duplicates were dropped.

    The same file passed twice, or two files that overlap, must not count an episode twice (pass^4 from
    k=2); a later record of a key is a rerun of it, so it replaces the earlier one.
    """
    by_key: dict[tuple[str, str, int], Trajectory] = {}
    total = 0
    for t in runs:
        total += 1
        by_key.pop(t.key, None)  # re-insert: the survivor keeps the position of its last occurrence
        by_key[t.key] = t
    return list(by_key.values()), total - len(by_key)
