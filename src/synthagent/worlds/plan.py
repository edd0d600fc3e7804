"""The pieces of one task's goal while it is being generated: the details it depends on and its sub-goals.

The generator draws them, operations fill them in (`operations/*.py: plan`), and the gold plan, rubric,
instruction and private slots are all read off them, so the four can never disagree about a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from synthagent.worlds.spec_parts import ToolDef


class GenerationFailed(RuntimeError):
    """The knobs cannot be met for this domain and seed (e.g. too few hideable details)."""


@dataclass
class Param:
    """One detail of the goal: hidden params become private slots, the others appear in the request."""

    name: str
    value: Any
    label: str
    keywords: list[str]
    hideable: bool = True
    hidden: bool = False
    arg: str = ""  # the tool argument this detail fills (name may get a suffix to stay unique)

    def __post_init__(self) -> None:
        self.arg = self.arg or self.name


@dataclass
class Subgoal:
    kind: str  # "lookup" | "write"
    tool: ToolDef
    record_key: str | None = None
    ref: Param | None = None
    field: str | None = None  # lookup field
    goal: str = ""
    args: list[Param] = dc_field(default_factory=list)  # write arguments besides the record key


def fmt(value: Any) -> str:
    """Money-like floats with two decimals (8.80, not 8.8); everything else as is."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
