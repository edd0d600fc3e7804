"""The name of the world kind a task runs in, as the server and dataset cards report it.

Why a module of its own: the world-kind registry (`sim/kinds.py`, in progress) will answer this; until it
lands, a typed world says its kind and an untyped one is described by what the runtime routes on.
"""

from __future__ import annotations

from synthagent.spec.models import Task


def world_kind(task: Task) -> str:
    world = task.world
    kind = getattr(world, "kind", None)
    if isinstance(kind, str):
        return kind
    if isinstance(world, dict):
        if "db" in world:
            return "procedural"
        if "tau2" in world:
            return "tau2"
    return "simulated"
