"""The runtime's three seams: user simulators, tool backends and policies.

Procedural implementations answer synchronously; LLM-backed ones are coroutines. The runtime awaits
whatever it gets (`resolve`), so one episode loop serves both, and a fully synchronous episode can run
without an event loop at all (see `runtime.run_episode_sync`), which keeps self-tests fast.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Protocol, TypeVar, Union

from synthagent.spec.models import Message, Task

T = TypeVar("T")
MaybeAwaitable = Union[T, Awaitable[T]]


async def resolve(value: MaybeAwaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value  # type: ignore[return-value]


@dataclass
class ToolResult:
    """What one tool call produced, plus the facts the scorer needs when it replays the call."""

    content: str
    error: bool = False
    name: str = ""
    args: dict[str, Any] | None = None
    kind: str = "read"
    owners: tuple[str, ...] = ()
    precondition_violation: bool = False
    cache_hit: bool | None = None
    fault: str | None = None
    """Set when the tool simulator itself failed for good (endpoint down): the episode is unscored."""

    def fail(self, message: str) -> "ToolResult":
        """Make this result the agent's error observation (`Error: …`); every tool backend words errors so."""
        self.content = f"Error: {message}"
        self.error = True
        return self


class ToolSession(Protocol):
    def call(self, name: str, arguments: str) -> MaybeAwaitable[ToolResult]: ...


class ToolBackend(Protocol):
    def session(self, task: Task) -> ToolSession: ...


STOP_REASONS = ("done", "transfer", "out_of_scope", "patience", "fault")


@dataclass
class UserReply:
    text: str
    stop: bool = False
    stop_reason: str | None = None
    revealed: list[str] = field(default_factory=list)
    fault: str | None = None
    fault_message: str | None = None
    """What went wrong when `fault` is set (the endpoint's error), shown with the unscored episode."""


class UserSession(Protocol):
    def opening(self) -> MaybeAwaitable[str]: ...

    def reply(self, agent_text: str, history: list[Message]) -> MaybeAwaitable[UserReply]: ...


class UserSimulator(Protocol):
    def session(self, task: Task, seed: int) -> UserSession: ...


class PolicySession(Protocol):
    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> MaybeAwaitable[Message]: ...


class Policy(Protocol):
    name: str

    def session(self, task: Task, seed: int) -> PolicySession: ...
