"""The sessions a server holds: isolated, expiring when idle, and bounded in number.

Each session is an independent episode (its own user, tool and policy sessions), so one client can neither
see nor disturb another's. Memory stays bounded two ways: a session idle for longer than `idle_s` is closed
by a sweeper, and when `max_sessions` are open a new one first evicts finished episodes, least recently
used first, and is refused (429) only when every open session is still in play.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import time
from dataclasses import dataclass

from synthagent.integrations.server.session import ServedEpisode, SessionError
from synthagent.sim.interfaces import ToolBackend, UserSimulator
from synthagent.spec.models import Task


@dataclass(frozen=True)
class ServeLimits:
    max_sessions: int = 4096
    idle_s: float = 600.0
    max_turns: int = 16
    max_body_bytes: int = 256 * 1024


class SessionStore:
    def __init__(self, tasks: list[Task], user: UserSimulator, tools: ToolBackend, limits: ServeLimits):
        self.tasks = {t.id: t for t in tasks}
        self.order = [t.id for t in tasks]
        self.user, self.tools, self.limits = user, tools, limits
        self.sessions: dict[str, ServedEpisode] = {}
        self._ids = itertools.count()
        self._salt = os.urandom(8).hex()  # ids of a restarted server never collide with a previous run's
        self._sweeper: asyncio.Task[None] | None = None

    def new_id(self) -> str:
        return hashlib.sha256(f"{self._salt}:{next(self._ids)}".encode()).hexdigest()[:24]

    def task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise SessionError(404, f"unknown task {task_id!r}; GET /tasks lists the {len(self.tasks)} served")
        return task

    def get(self, session_id: str) -> ServedEpisode:
        episode = self.sessions.get(session_id)
        if episode is None:
            raise SessionError(404, f"unknown session {session_id!r}: never started, closed, expired after "
                                    f"{self.limits.idle_s:g}s idle, or the server restarted; start a new one "
                                    "(episodes are deterministic in (task, seed), so replaying the same "
                                    "messages reaches the same state)")
        return episode

    async def open(self, task_id: str, seed: int, max_turns: int | None, reject_unknown_tools: bool) -> ServedEpisode:
        task = self.task(task_id)
        self._make_room()
        episode = ServedEpisode(self.new_id(), task, seed, self.user, self.tools,
                                max_turns if max_turns is not None else self.limits.max_turns, reject_unknown_tools)
        self.sessions[episode.id] = episode
        try:
            await episode.start()
        except BaseException:
            self.close(episode.id)
            raise
        return episode

    def close(self, session_id: str) -> bool:
        episode = self.sessions.pop(session_id, None)
        if episode is None:
            return False
        episode.close()
        return True

    def _make_room(self) -> None:
        if len(self.sessions) < self.limits.max_sessions:
            return
        finished = sorted((e for e in self.sessions.values() if e.done), key=lambda e: e.last_used)
        for episode in finished[: max(1, len(self.sessions) - self.limits.max_sessions + 1)]:
            self.close(episode.id)
        if len(self.sessions) >= self.limits.max_sessions:
            raise SessionError(429, f"{len(self.sessions)} sessions are open and in play (the limit is "
                                    f"{self.limits.max_sessions}); close finished ones or retry later")

    def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        stale = [sid for sid, e in self.sessions.items() if now - e.last_used > self.limits.idle_s]
        for sid in stale:
            self.close(sid)
        return len(stale)

    async def sweep_forever(self) -> None:
        period = max(0.05, min(30.0, self.limits.idle_s / 4))
        while True:
            await asyncio.sleep(period)
            self.expire()

    def start_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self.sweep_forever())

    def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for sid in list(self.sessions):
            self.close(sid)
