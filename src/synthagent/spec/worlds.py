"""What kind of world a task lives in, as typed data: `Task.world` is one of these, told apart by `kind`.

The world says where tool calls go and what state they act on. Its *behaviour* (tool backend, default
user simulator, replay for scoring, check operations) is not here: each kind registers that from its own
package into `synthagent.sim.kinds`, and every runner asks that registry. This module holds only the data,
because the data is the contract between stages (a task file must validate without importing τ² or
reasoning-gym).

Task files written before world kinds existed carry an untyped `world` dict (or none); `legacy_world` is
the one place that reads them, and every task written since names its kind.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _World(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProceduralWorld(_World):
    """A generated database the tools execute against, and who the user is in it (procedural domains)."""

    kind: Literal["procedural"] = "procedural"
    db: dict[str, dict[str, dict[str, Any]]] = Field(description="table → key → record: the initial state.")
    user: dict[str, Any] = Field(default_factory=dict, description="The user's identity: owner table, key, name.")
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                             description="tool name → the runtime of its operation.")
    title: str = ""


class Tau2World(_World):
    """A τ²-bench domain environment: τ²'s own tools run on its database with the task's initial state."""

    kind: Literal["tau2"] = "tau2"
    domain: str
    task_id: str
    initial_state: dict[str, Any] | None = None


class ReasoningWorld(_World):
    """A reasoning-gym problem: (dataset, seed, size, index) regenerate the entry and its exact scorer."""

    kind: Literal["reasoning"] = "reasoning"
    dataset: str
    seed: int
    size: int
    index: int


class SimulatedWorld(_World):
    """No executable state: an LLM simulates the tools (with the shared mapping M) and the user.

    `state` optionally describes the world the tool simulator should be consistent with (records, initial
    values); it is shown to the simulator, never to the agent.
    """

    kind: Literal["simulated"] = "simulated"
    state: dict[str, Any] = Field(default_factory=dict)


World = Annotated[Union[ProceduralWorld, Tau2World, ReasoningWorld, SimulatedWorld], Field(discriminator="kind")]
WorldKindName = Literal["procedural", "tau2", "reasoning", "simulated"]


def legacy_world(world: Any, metadata: dict[str, Any] | None) -> Any:
    """Name the kind of a world written before kinds existed; a world that already names one passes through.

    Old files said what a world was only by its keys: a `db` (procedural), a `tau2` entry, reasoning-gym's
    coordinates in `metadata`, or nothing at all (LLM-simulated). This is the only code that reads them.
    """
    if isinstance(world, BaseModel) or (isinstance(world, dict) and "kind" in world):
        return world
    metadata = metadata or {}
    if world is None:
        info = metadata.get("reasoning_gym")
        if isinstance(info, dict):
            return {"kind": "reasoning", **{k: info.get(k) for k in ("dataset", "seed", "size", "index")}}
        return {"kind": "simulated"}
    if isinstance(world, dict):
        if "db" in world:
            return {"kind": "procedural", **world}
        if isinstance(world.get("tau2"), dict) and len(world) == 1:
            return {"kind": "tau2", **world["tau2"]}
        return {"kind": "simulated", "state": world}
    return world
