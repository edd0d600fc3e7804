"""The executable tool backend: tool calls run against the task's own database instance.

Each session works on a private copy of the database, so rollouts of one task never see each other's
writes. What a call does is the tool's operation's business (`worlds/operations/*.py: execute`); this
module only validates the call, hands it to the operation and reports the outcome. Every failure — unknown
tool, non-JSON or oversized arguments, schema violations, missing records, forbidden state — becomes an
error observation; nothing here raises into the episode.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from synthagent.sim.interfaces import ToolResult
from synthagent.sim.tools.validate import parse_call
from synthagent.spec.models import Task
from synthagent.spec.worlds import ProceduralWorld
from synthagent.worlds.operations import Operation, Runtime, runtime_from_world


def copy_db(db: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {table: {key: dict(rec) for key, rec in rows.items()} for table, rows in db.items()}


class ExecutableBackend:
    """Factory of sessions; stateless itself."""

    def session(self, task: Task) -> "ExecutableSession":
        return ExecutableSession(task)


class ExecutableSession:
    def __init__(self, task: Task):
        world = task.world
        if not isinstance(world, ProceduralWorld):
            raise ValueError(f"task {task.id}: a {world.kind} world has no database; the executable backend plays "
                             "procedural worlds only")
        self.task = task
        self.db = copy_db(world.db)
        self.stored: dict[str, dict[str, Any]] = world.tools
        self.runnables: dict[str, tuple[Operation, Runtime] | None] = {}
        self.schemas = {t.name: t.function.parameters for t in task.tools}
        self.kinds = {t.name: t.kind for t in task.tools}

    def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        result = ToolResult(content="", name=name, kind=self.kinds.get(name, "read"))
        if name in self.schemas and name not in self.stored:
            return result.fail(f"tool '{name}' has no executable implementation")
        args, problem = parse_call(name, arguments, self.schemas)
        result.args = args
        if problem:
            return result.fail(problem)
        runnable = self._runnable(name)
        if runnable is None:
            return result.fail(f"tool '{name}' has no executable implementation")
        op, runtime = runnable
        outcome = op.execute(runtime, self.db, args)
        result.content = outcome.content
        result.error = outcome.error
        result.owners = outcome.owners
        result.precondition_violation = outcome.precondition_violation
        return result

    def _runnable(self, name: str) -> tuple[Operation, Runtime] | None:
        """The tool's operation and typed runtime, read from the task once per session and tool."""
        if name not in self.runnables:
            try:
                self.runnables[name] = runtime_from_world(self.stored[name])
            except ValidationError:
                self.runnables[name] = None
        return self.runnables[name]

