"""τ²'s own domain tools as an executable tool backend for our runtime.

A session builds the task's τ² domain environment (a copy-on-access overlay of the domain database for
airline and retail, a fresh build otherwise; the task's initial state applied) and answers each call
with τ²'s own `Environment.get_response`, exactly what τ²'s orchestrator does per tool call. Only the
tools the task lists can be called. Unknown tools, malformed arguments and anything τ² raises become
error observations; nothing raises into the episode.
"""

from __future__ import annotations

from typing import Any

from synthagent.integrations.tau2.env import WORLDS, Tau2Worlds, overlay_mode, reading
from synthagent.sim.interfaces import ToolResult
from synthagent.sim.tools.validate import parse_call
from synthagent.spec.models import Task
from synthagent.spec.worlds import Tau2World


def tau2_world(task: Task) -> Tau2World:
    world = task.world
    if not isinstance(world, Tau2World):
        raise ValueError(f"task {task.id}: a {world.kind} world; the τ² backend runs only tasks imported from τ²")
    return world


class Tau2Backend:
    """Factory of sessions over τ²'s domain environments; holds only the (shared) database memo."""

    def __init__(self, worlds: Tau2Worlds | None = None):
        self.worlds = worlds or WORLDS

    def session(self, task: Task) -> "Tau2Session":
        return Tau2Session(task, self.worlds)


class Tau2Session:
    def __init__(self, task: Task, worlds: Tau2Worlds = WORLDS):
        world = tau2_world(task)
        self.task = task
        self.env = worlds.fresh_env(world.domain, world.initial_state)
        self.mode = overlay_mode(self.env)
        self.read_only = worlds.read_only_tools(world.domain)
        self.kinds = {t.name: t.kind for t in task.tools}
        self.schemas = {t.name: t.function.parameters for t in task.tools}
        self.calls = 0

    def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        from tau2.data_model.message import ToolCall as Tau2ToolCall

        result = ToolResult(content="", name=name, kind=self.kinds.get(name, "read"))
        args, problem = parse_call(name, arguments, self.schemas)
        result.args = args
        if problem:
            return result.fail(problem)
        self.calls += 1
        try:
            with reading(self.mode, name in self.read_only):
                call = Tau2ToolCall.model_construct(id=f"call_{self.calls}", name=name, arguments=args,
                                                    requestor="assistant")  # fields checked above
                message = self.env.get_response(call)
        except Exception as err:  # get_response catches tool errors itself; this is for anything else
            return result.fail(f"{type(err).__name__}: {err}")
        result.content = message.content or ""
        result.error = bool(message.error)
        return result

