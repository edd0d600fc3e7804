"""The registry of tool operations: one module per operation, each exporting `OPERATION`.

An operation owns everything about its kind of tool: the keys it adds to a domain's tool spec and their
validation, its typed runtime (stored in `ProceduralWorld.tools`), the OpenAI tool spec, its execution
over the database (what `sim/tools/executable.py` runs), and for writes its sub-goal, gold steps and
rubric item. Adding an operation is adding a module here and its line below; see docs/domains.md.
"""

from __future__ import annotations

from typing import Any

from synthagent.worlds.operations import canned as _canned
from synthagent.worlds.operations import create as _create
from synthagent.worlds.operations import get as _get
from synthagent.worlds.operations import list as _list
from synthagent.worlds.operations import set as _set
from synthagent.worlds.operations import update as _update
from synthagent.worlds.operations import verify as _verify
from synthagent.worlds.operations.base import Operation, Outcome, Runtime, WriteOperation

OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    _verify.OPERATION, _get.OPERATION, _list.OPERATION, _set.OPERATION, _update.OPERATION, _create.OPERATION,
    _canned.OPERATION)}

VERIFY = _verify.OPERATION
GET = _get.OPERATION
CANNED = _canned.OPERATION


def operation(op: str) -> Operation | None:
    return OPERATIONS.get(op)


def runtime_from_world(stored: dict[str, Any]) -> tuple[Operation, Runtime] | None:
    """The operation and typed runtime of one `ProceduralWorld.tools` entry; None for an unknown op."""
    op = OPERATIONS.get(stored.get("op", ""))
    if op is None:
        return None
    return op, op.runtime_model.model_validate(stored)


__all__ = ["CANNED", "GET", "OPERATIONS", "Operation", "Outcome", "Runtime", "VERIFY", "WriteOperation", "operation",
           "runtime_from_world"]
