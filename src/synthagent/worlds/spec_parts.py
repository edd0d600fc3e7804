"""The typed parts of a domain spec that every operation shares: fields, entities, preconditions, tools.

A domain is data (`domains/*.py` define a plain dict `DOMAIN`); these pydantic models are what that dict
must look like. Each operation adds its own keys to `ToolDef` in its own module (`operations/*.py`), and
`domain_spec.Domain` puts them together. Unknown keys are errors, so a typo fails at import, not in a task.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthagent.worlds import values as value_generators


class DomainError(ValueError):
    """A domain spec that cannot work; the message names the domain and the path of the offending key."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Part):
    """A record field (or a write argument): `gen` names a value generator, the rest parameterise it."""

    gen: str
    label: str | None = None
    keywords: list[str] = Field(default_factory=list)
    n: int | None = None
    values: list[Any] | None = None
    min: int | float | None = None
    max: int | float | None = None
    min_days: int | None = None
    max_days: int | None = None
    min_hour: int | None = None
    max_hour: int | None = None

    @field_validator("gen")
    @classmethod
    def _known_generator(cls, gen: str) -> str:
        if gen not in value_generators.GENERATORS:
            raise ValueError(f"unknown generator {gen!r}; known: {', '.join(sorted(value_generators.GENERATORS))}")
        return gen

    @cached_property
    def params(self) -> dict[str, Any]:
        """The flat mapping the generators read; built once (a cached property is a plain instance-dict
        lookup afterwards, which matters: fields are drawn ~100 times per task)."""
        return self.model_dump(exclude_none=True)

    def draw(self, rng: Any) -> Any:
        """One value from this field's generator."""
        return value_generators.GENERATORS[self.gen](rng, self.params)

    @property
    def json_type(self) -> str:
        return value_generators.json_type(self.params)

    def label_or(self, name: str) -> str:
        return self.label if self.label is not None else name


class ArgSpec(FieldSpec):
    """A write argument: a field spec the user may be asked for; `hideable=False` always states it."""

    hideable: bool = True


class Entity(_Part):
    """A table. With `owner_field` its records belong to an owner (the user); without, it is a catalog."""

    key: str
    id_prefix: str
    label: str
    fields: dict[str, FieldSpec]
    keywords: list[str] = Field(default_factory=list)
    owner_field: str | None = None
    count: tuple[int, int] | None = None
    per_owner: tuple[int, int] = (1, 3)
    noun: str | None = None
    plural: str | None = None

    @cached_property
    def drawers(self) -> list[tuple[str, Callable[[Any, dict[str, Any]], Any], dict[str, Any]]]:
        """(field, generator, parameters) in field order: drawing a record is the hottest loop of generation."""
        return [(fname, value_generators.GENERATORS[f.gen], f.params) for fname, f in self.fields.items()]

    @property
    def owned(self) -> bool:
        return self.owner_field is not None

    @property
    def noun_or_label(self) -> str:
        return self.noun if self.noun is not None else self.label


class Requires(_Part):
    """A state precondition of a write tool: the record's `field` must be one of `allowed`."""

    field: str
    allowed: list[Any] = Field(min_length=1)


class ToolDef(_Part):
    """Keys every domain tool has; each operation's module subclasses it with `op` fixed and its own keys."""

    name: str = Field(min_length=1)
    op: str
    entity: str
    description: str = ""


class VerifyRef(_Part):
    tool: str
    field: str


class Lookup(_Part):
    """A read-only sub-goal: read `field` of a record with the `get` tool `tool` and tell the user."""

    tool: str
    field: str
    goal: str


class Distractor(_Part):
    """A plausible tool the task does not need; flat `{arg: JSON type}` parameters, a canned reply."""

    name: str = Field(min_length=1)
    kind: str = "read"
    description: str = ""
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in ("read", "write"):
            raise ValueError("must be 'read' or 'write'")
        return kind


class Restriction(_Part):
    """'Tool {tool} must NOT be used to {purpose}. This restriction exists because {reason}.'"""

    tool: str
    purpose: str
    reason: str


def domain_error(domain: str, path: str, reason: str) -> DomainError:
    """The one format of a spec error: `retail.tools[3].field: unknown field 'x'`."""
    return DomainError(f"{domain}.{path}: {reason}" if path else f"{domain}: {reason}")


class RuleSpec(_Part):
    """One condition of a policy tree, on a field of the record the guarded tool changes.

    The condition holds when the record's `field` is one of `allowed` (a subset of `values`). The field is
    written into the record only on a task sampled on a branch (`worlds/branching.py`), so a domain's
    plain tasks draw exactly the records they always did; the `get` tool shows it like any other field."""

    id: str = Field(min_length=1, max_length=32)
    kind: str
    field: str
    values: list[str] = Field(min_length=2)
    allowed: list[str] = Field(min_length=1)
    condition: str = Field(min_length=3)
    otherwise: str
    alternative: str = ""
    alternative_tool: str | None = None

    @field_validator("kind")
    @classmethod
    def _rule_kind(cls, kind: str) -> str:
        if kind not in ("eligibility", "limit", "time_window", "tier", "identity"):
            raise ValueError("must be one of eligibility, limit, time_window, tier, identity")
        return kind

    @field_validator("otherwise")
    @classmethod
    def _leaf(cls, otherwise: str) -> str:
        if otherwise not in ("refuse", "transfer", "alternative"):
            raise ValueError("must be one of refuse, transfer, alternative")
        return otherwise

    @cached_property
    def failing(self) -> list[str]:
        return [v for v in self.values if v not in self.allowed]


class TreeSpec(_Part):
    """A policy tree guarding one write tool: `rules` in order; the first that fails decides."""

    tool: str
    action: str = Field(min_length=3)
    rules: list[RuleSpec] = Field(min_length=1)
