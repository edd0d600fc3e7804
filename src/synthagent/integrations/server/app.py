"""The HTTP surface: FastAPI routes over a `SessionStore`, with the guards a shared service needs.

Every refusal is a 4xx with a JSON body `{"error": ..., "detail": ...}` that says what to fix: unknown task or
session (404), malformed JSON or message, unknown tool (422), a turn out of order or an episode already over
(409), a body over the limit (413), too many sessions in play (429), a missing or wrong token (401). A
simulator that fails while a session starts is the upstream's fault, 502. Step work is shielded from the
request: a client that disconnects mid-step leaves the episode consistent, and its retry of the same `turn`
gets the recorded result.
"""

from __future__ import annotations

import asyncio
import hmac
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from synthagent.integrations.server.protocol import (ErrorBody, Health, ScoreResponse, SessionState, StartRequest,
                                                     StartResponse, StepRequest, StepResponse, TaskInfo, TaskList)
from synthagent.integrations.server.session import SessionError
from synthagent.integrations.server.store import ServeLimits, SessionStore
from synthagent.reward.scorer import RewardConfig, ScoringError, score_async
from synthagent.sim.interfaces import ToolBackend, UserSimulator
from synthagent.spec.models import Message, Task

OPEN_PATHS = frozenset({"/health"})


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=message, detail=detail).model_dump(), status_code=status)


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, whether or not they declare a Content-Length."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"request body over the limit of {self.limit} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await too_big(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            event = await receive()
            if event["type"] == "http.disconnect":
                return None
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await too_big(scope, receive, send)
            chunks.append(chunk)
            more = event.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class TokenGuard:
    """Bearer-token check for every path but /health; constant-time comparison."""

    def __init__(self, app: Any, token: str):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                return await _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")(
                    scope, receive, send)
        return await self.app(scope, receive, send)


def create_app(tasks: list[Task], user: UserSimulator, tools: ToolBackend, judge: Any = None, *,
               limits: ServeLimits = ServeLimits(), token: str | None = None,
               reward: RewardConfig = RewardConfig()) -> FastAPI:
    store = SessionStore(tasks, user, tools, limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        store.start_sweeper()
        yield
        store.shutdown()

    app = FastAPI(title="synthagent environment server", version="1", lifespan=lifespan,
                  description="Episodes of synthagent tasks, one assistant message per step (docs/serve.md).")
    app.state.store = store

    @app.exception_handler(SessionError)
    async def session_error(_: Request, err: SessionError) -> JSONResponse:
        return _error(err.status, err.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in err.errors()]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(x) for x in first["loc"])
        return _error(422, f"malformed request at {where}: {first['msg']}", problems)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(sessions=len(store.sessions), tasks=len(store.tasks))

    @app.get("/tasks", response_model=TaskList)
    async def list_tasks(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=10_000)) -> TaskList:
        ids = store.order[offset: offset + limit]
        return TaskList(total=len(store.order), offset=offset, tasks=[
            TaskInfo(id=i, domain=store.tasks[i].domain, difficulty=store.tasks[i].difficulty,
                     world=store.tasks[i].world.kind) for i in ids])

    @app.post("/sessions", response_model=StartResponse, status_code=201)
    async def start(req: StartRequest) -> StartResponse:
        episode = await asyncio.shield(store.open(req.task_id, req.seed, req.max_turns, req.unknown_tools == "reject"))
        return StartResponse(session_id=episode.id, task_id=episode.task.id, seed=episode.seed,
                             max_turns=episode.max_turns, messages=episode.state()["messages"],
                             tools=episode.task.agent_tools())

    @app.post("/sessions/{session_id}/step", response_model=StepResponse)
    async def step(session_id: str, req: StepRequest) -> StepResponse:
        episode = store.get(session_id)
        message = Message(role="assistant", actor="agent", content=req.message.content,
                          tool_calls=req.message.tool_calls)
        # shielded: a disconnect cancels this handler, never the half-applied step underneath it
        return StepResponse(**await asyncio.shield(episode.step(message, req.turn)))

    @app.get("/sessions/{session_id}", response_model=SessionState)
    async def state(session_id: str) -> SessionState:
        return SessionState(**store.get(session_id).state())

    @app.post("/sessions/{session_id}/score", response_model=ScoreResponse)
    async def score(session_id: str) -> ScoreResponse:
        episode = store.get(session_id)
        traj = episode.trajectory
        if traj is None:
            raise SessionError(409, f"the episode is still in play at turn {episode.turn}; step until done")
        if episode.score is None:
            episode.score = await asyncio.shield(_score(episode.task, traj, judge, reward))
        return ScoreResponse(session_id=episode.id, task_id=episode.task.id, termination=traj.termination,
                             **episode.score)

    @app.delete("/sessions/{session_id}")
    async def close(session_id: str) -> dict[str, bool]:
        store.get(session_id)
        return {"closed": store.close(session_id)}

    if token:
        app.add_middleware(TokenGuard, token=token)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    return app


async def _score(task: Task, traj: Any, judge: Any, reward: RewardConfig) -> dict[str, Any]:
    """The rubric result; an infrastructure failure makes it unscored rather than a 0 or an error."""
    if traj.fault is not None:
        return {"reward": None, "result": None, "unscored": True, "fault": traj.fault.message}
    try:
        result = await score_async(task, traj, reward, judge=judge)
    except ScoringError as err:
        raise SessionError(422, f"cannot score: {err}") from None
    except Exception as err:  # the judge failed after its retries: the episode is unscored, never a 500
        return {"reward": None, "result": None, "unscored": True, "fault": f"judge: {type(err).__name__}: {err}"}
    return {"reward": result.reward, "result": result, "unscored": False, "fault": None}
