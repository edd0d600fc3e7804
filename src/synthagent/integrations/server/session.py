"""One served episode: the unchanged episode runtime, driven turn by turn from HTTP requests.

`run_episode` pulls each agent turn from a policy. Here the policy's `act()` parks on a queue until a step
request brings the next assistant message, so the server, the `rollout` command and every trainer play
exactly the same protocol (prompt, tool routing, answer detection, turn limit, termination). What a step
returns is whatever the runtime appended after that assistant message — tool results, then the user's
reply — up to the moment it asks the policy again or the episode ends.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from synthagent.sim.interfaces import ToolBackend, UserSimulator
from synthagent.sim.runtime import run_episode
from synthagent.spec.models import Message, Task, Trajectory

SERVED_POLICY = "served"


class SessionError(Exception):
    """A request this session cannot honour; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _QueuePolicySession:
    """The policy side of one episode: hands the runtime whatever the next step request carries."""

    def __init__(self, owner: "ServedEpisode"):
        self.owner = owner

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        self.owner._messages = messages  # the runtime's own list: observations are read from it, never copied
        self.owner._waiting.set()
        reply = await self.owner._actions.get()
        self.owner._waiting.clear()
        return reply


class _QueuePolicy:
    name = SERVED_POLICY

    def __init__(self, owner: "ServedEpisode"):
        self.owner = owner

    def session(self, task: Task, seed: int) -> _QueuePolicySession:
        return _QueuePolicySession(self.owner)


def wire(message: Message) -> dict[str, Any]:
    """A runtime message in OpenAI chat format, as trainers expect it."""
    return message.openai()


class ServedEpisode:
    """An episode in flight; every public method is safe to call from concurrent requests."""

    def __init__(self, session_id: str, task: Task, seed: int, user: UserSimulator, tools: ToolBackend,
                 max_turns: int, reject_unknown_tools: bool):
        self.id = session_id
        self.task = task
        self.seed = seed
        self.max_turns = max_turns
        self.reject_unknown_tools = reject_unknown_tools
        self.tool_names = {spec["function"]["name"] for spec in task.agent_tools()}
        self.last_used = time.monotonic()
        self.trajectory: Trajectory | None = None
        self.turn = 0
        self._user, self._tools = user, tools
        self._messages: list[Message] = []
        self._actions: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        self._waiting = asyncio.Event()
        self._lock = asyncio.Lock()
        self._results: list[dict[str, Any]] = []  # per agent turn: what its step returned (for retries)
        self._runner: asyncio.Task[Trajectory] | None = None
        self.score: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> list[dict[str, Any]]:
        """Run the episode up to the agent's first turn; the opening messages (system, user) come back."""
        self._runner = asyncio.ensure_future(run_episode(self.task, _QueuePolicy(self), self._user, self._tools,
                                                         seed=self.seed, max_turns=self.max_turns))
        await self._settle()
        if self.trajectory is not None and self.trajectory.termination == "fault":
            raise SessionError(502, f"the episode could not start: {self.trajectory.meta}")
        return [wire(m) for m in self._messages] if self._messages else \
            [wire(m) for m in (self.trajectory.messages if self.trajectory else [])]

    def close(self) -> None:
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()

    @property
    def done(self) -> bool:
        return self.trajectory is not None

    async def _settle(self) -> None:
        """Wait until the runtime asks the policy again or the episode ends, whichever comes first."""
        assert self._runner is not None
        waiter = asyncio.ensure_future(self._waiting.wait())
        try:
            await asyncio.wait({self._runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._runner.done():
            self.trajectory = self._finished()
            self._messages = self.trajectory.messages

    def _finished(self) -> Trajectory:
        assert self._runner is not None
        try:
            return self._runner.result()
        except BaseException as err:  # a simulator that raised: the episode is over and unscored, not a crash
            from synthagent.spec.models import Fault

            msgs = self._messages or []
            return Trajectory(task_id=self.task.id, domain=self.task.domain, difficulty=self.task.difficulty,
                              policy=SERVED_POLICY, seed=self.seed, messages=msgs, termination="fault",
                              fault=Fault(role="user", message=f"{type(err).__name__}: {err}"),
                              meta={"error": f"{type(err).__name__}: {err}"})

    # -------------------------------------------------------------------------------------------- steps

    def validate(self, message: Message) -> None:
        if not message.content and not message.tool_calls:
            raise SessionError(422, "the assistant message has neither content nor tool_calls")
        for call in message.tool_calls or []:
            if self.reject_unknown_tools and call.function.name not in self.tool_names:
                raise SessionError(422, f"unknown tool {call.function.name!r}; this task offers: "
                                        f"{', '.join(sorted(self.tool_names))}")

    async def step(self, message: Message, turn: int | None) -> dict[str, Any]:
        self.last_used = time.monotonic()
        async with self._lock:
            if turn is not None and turn < self.turn:
                return self._results[turn]  # a retry of a turn already taken: same answer, no second action
            if turn is not None and turn > self.turn:
                raise SessionError(409, f"turn {turn} is ahead of the episode, which is at turn {self.turn}")
            if self.done:
                raise SessionError(409, f"the episode is over ({self.trajectory.termination}); score or close it")
            self.validate(message)
            before = len(self._messages)
            self._waiting.clear()  # set again only when the runtime asks for the turn after this one
            self._actions.put_nowait(message)
            await self._settle()
            observed = self._messages[before + 1:]
            result: dict[str, Any] = {"turn": self.turn, "observations": [wire(m) for m in observed],
                                      "done": self.done, "termination": None, "reason": None}
            if self.trajectory is not None:
                result["termination"] = self.trajectory.termination
                meta = self.trajectory.meta
                reason = meta.get("stop_reason") or meta.get("error")
                result["reason"] = reason if isinstance(reason, str) or reason is None else json.dumps(reason)
            self._results.append(result)
            self.turn += 1
            self.last_used = time.monotonic()
            return result

    def state(self) -> dict[str, Any]:
        return {"session_id": self.id, "task_id": self.task.id, "seed": self.seed, "turn": self.turn,
                "done": self.done, "termination": self.trajectory.termination if self.trajectory else None,
                "messages": [wire(m) for m in self._messages]}
