"""A thin client for the environment server: standard library only, sync and asyncio flavours.

The two clients share one table of calls (`_call_*`), so they cannot disagree about paths or bodies. Both
speak HTTP/1.1 with keep-alive and JSON bodies; the async one keeps a small pool of connections so that a
trainer can drive hundreds of sessions from one event loop. `play` runs a whole episode with any function
that maps (messages, tools) to an assistant message, which is all an adapter for a framework needs.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from synthagent.integrations.server.protocol import (ScoreResponse, SessionState, StartResponse, StepResponse,
                                                     TaskList)

Act = Callable[[list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any]]
AsyncAct = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[dict[str, Any]]]


class ServeError(Exception):
    """The server refused a request; `status` and `error` are its answer."""

    def __init__(self, status: int, error: str, detail: Any = None):
        super().__init__(f"{status}: {error}")
        self.status, self.error, self.detail = status, error, detail


Call = tuple[str, str, dict[str, Any] | None, Any]


def _call_tasks(offset: int, limit: int) -> Call:
    return ("GET", f"/tasks?offset={offset}&limit={limit}", None, TaskList)


def _call_start(task_id: str, seed: int, max_turns: int | None, unknown_tools: str) -> Call:
    body: dict[str, Any] = {"task_id": task_id, "seed": seed, "unknown_tools": unknown_tools}
    if max_turns is not None:
        body["max_turns"] = max_turns
    return ("POST", "/sessions", body, StartResponse)


def _call_step(session_id: str, message: dict[str, Any], turn: int | None) -> Call:
    body: dict[str, Any] = {"message": message}
    if turn is not None:
        body["turn"] = turn
    return ("POST", f"/sessions/{session_id}/step", body, StepResponse)


def _call_score(session_id: str) -> Call:
    return ("POST", f"/sessions/{session_id}/score", None, ScoreResponse)


def _call_state(session_id: str) -> Call:
    return ("GET", f"/sessions/{session_id}", None, SessionState)


def _call_close(session_id: str) -> Call:
    return ("DELETE", f"/sessions/{session_id}", None, None)


def _decode(status: int, raw: bytes, model: Any) -> Any:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    if status >= 400:
        error = data.get("error", "") if isinstance(data, dict) else raw[:200].decode("utf-8", "replace")
        raise ServeError(status, error, data.get("detail") if isinstance(data, dict) else None)
    return model.model_validate(data) if model is not None else data


def _headers(token: str | None, body: bytes | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class ServeClient:
    """Blocking client (one keep-alive connection); not shared between threads."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 300.0):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http://host:port URL, got {base_url!r}")
        self.host, self.port, self.token, self.timeout = parts.hostname, parts.port or 80, token, timeout
        self._conn: http.client.HTTPConnection | None = None

    def _send(self, call: Call) -> Any:
        method, path, payload, model = call
        body = json.dumps(payload).encode() if payload is not None else None
        for attempt in (0, 1):  # a keep-alive connection the server closed meanwhile is retried once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=_headers(self.token, body))
                resp = self._conn.getresponse()
                return _decode(resp.status, resp.read(), model)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.close_connection()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def tasks(self, offset: int = 0, limit: int = 100) -> TaskList:
        return self._send(_call_tasks(offset, limit))

    def start(self, task_id: str, seed: int = 0, max_turns: int | None = None,
              unknown_tools: str = "reject") -> StartResponse:
        return self._send(_call_start(task_id, seed, max_turns, unknown_tools))

    def step(self, session_id: str, message: dict[str, Any], turn: int | None = None) -> StepResponse:
        return self._send(_call_step(session_id, message, turn))

    def score(self, session_id: str) -> ScoreResponse:
        return self._send(_call_score(session_id))

    def state(self, session_id: str) -> SessionState:
        return self._send(_call_state(session_id))

    def close(self, session_id: str) -> None:
        self._send(_call_close(session_id))

    def play(self, task_id: str, act: Act, seed: int = 0, **start: Any) -> tuple[list[dict[str, Any]], ScoreResponse]:
        """One whole episode: start, step with `act` until done, score, close. Returns (messages, score)."""
        opened = self.start(task_id, seed, **start)
        messages = list(opened.messages)
        try:
            turn, done = 0, False
            while not done:
                reply = act(messages, opened.tools)
                out = self.step(opened.session_id, reply, turn)
                messages += [reply, *out.observations]
                turn, done = turn + 1, out.done
            return messages, self.score(opened.session_id)
        finally:
            self.close(opened.session_id)


class AsyncServeClient:
    """asyncio client with a pool of keep-alive connections; safe to share between tasks of one loop."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 300.0):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http://host:port URL, got {base_url!r}")
        self.host, self.port, self.token, self.timeout = parts.hostname, parts.port or 80, token, timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], method: str, path: str,
                        body: bytes | None) -> tuple[int, bytes, bool]:
        reader, writer = conn
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                *(f"{k}: {v}" for k, v in _headers(self.token, body).items()), f"Content-Length: {len(body or b'')}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        return status, await reader.readexactly(length), keep

    async def _send(self, call: Call) -> Any:
        method, path, payload, model = call
        body = json.dumps(payload).encode() if payload is not None else None
        for attempt in (0, 1):
            fresh = not self._idle
            conn = self._idle.pop() if self._idle else await asyncio.open_connection(self.host, self.port)
            try:
                status, raw, keep = await asyncio.wait_for(self._exchange(conn, method, path, body), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn[1].close()
                if attempt or fresh:
                    raise
                continue
            except BaseException:
                conn[1].close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn[1].close()
            return _decode(status, raw, model)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()

    async def tasks(self, offset: int = 0, limit: int = 100) -> TaskList:
        return await self._send(_call_tasks(offset, limit))

    async def start(self, task_id: str, seed: int = 0, max_turns: int | None = None,
                    unknown_tools: str = "reject") -> StartResponse:
        return await self._send(_call_start(task_id, seed, max_turns, unknown_tools))

    async def step(self, session_id: str, message: dict[str, Any], turn: int | None = None) -> StepResponse:
        return await self._send(_call_step(session_id, message, turn))

    async def score(self, session_id: str) -> ScoreResponse:
        return await self._send(_call_score(session_id))

    async def state(self, session_id: str) -> SessionState:
        return await self._send(_call_state(session_id))

    async def close(self, session_id: str) -> None:
        await self._send(_call_close(session_id))
