"""A scripted, local OpenAI-compatible chat server for tests and benchmarks.

The LLM paths of synthagent must be tested without a network and without a model, yet against the real
``openai`` SDK and real HTTP, including the failures a real endpoint produces: rate limits, server errors,
hangs, broken bodies, truncated output, replies that ignore the format. This server plays a *responder*
(a function of the request body) and injects those faults on demand or at a seeded rate.

It is a raw asyncio HTTP/1.1 server with keep-alive running on its own thread (or as a process, see
``main``), because a thread-per-request stdlib server cannot hold 256 concurrent slow requests at a
steady rate.

Injected faults are drawn deterministically from ``sha256(seed, request body)``, not from arrival order,
so a concurrent run sees the same faults on the same requests every time, and so does a run that was
killed and resumed. Transient faults (HTTP errors, hangs, broken bodies, disconnects) hit only the first
``transient_repeats`` occurrences of a request, so a retry gets through; content faults (truncation,
missing tags) hit every occurrence, because a client must repair them, not retry them.

Usage::

    with FakeOpenAIServer(lambda body: "<answer>42</answer>", latency_s=0.2) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
        ...
        assert srv.request_count == 1
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["http", "timeout", "malformed_json", "disconnect", "truncated", "missing_tags"]
TRANSIENT_KINDS: frozenset[str] = frozenset({"http", "timeout", "malformed_json", "disconnect"})


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong. Build with the class methods; a responder may return one."""

    kind: FaultKind
    status: int = 500
    sleep_s: float = 30.0
    text: str | None = None
    retry_after_s: float | None = None

    @classmethod
    def http(cls, status: int = 500, retry_after_s: float | None = None) -> Fault:
        return cls("http", status=status, retry_after_s=retry_after_s)

    @classmethod
    def rate_limited(cls, retry_after_s: float | None = None) -> Fault:
        return cls.http(429, retry_after_s)

    @classmethod
    def server_error(cls) -> Fault:
        return cls.http(500)

    @classmethod
    def timeout(cls, sleep_s: float = 30.0) -> Fault:
        """Answer only after ``sleep_s``: longer than the client's timeout, so the client gives up."""
        return cls("timeout", sleep_s=sleep_s)

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 whose body is cut off mid-JSON."""
        return cls("malformed_json")

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without answering."""
        return cls("disconnect")

    @classmethod
    def truncated(cls, text: str | None = None) -> Fault:
        """The first half of the reply (of ``text`` when given) with ``finish_reason="length"``."""
        return cls("truncated", text=text)

    @classmethod
    def missing_tags(cls, text: str | None = None) -> Fault:
        """The reply (or ``text``) with every ``<tag>``/``</tag>`` removed."""
        return cls("missing_tags", text=text)

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT_KINDS


Reply = str | Mapping[str, Any] | Fault
Responder = Callable[[dict[str, Any]], Reply]

DEFAULT_FAULTS: tuple[Fault, ...] = (
    Fault.rate_limited(),
    Fault.server_error(),
    Fault.timeout(),
    Fault.malformed_json(),
    Fault.truncated(),
    Fault.missing_tags(),
)


def echo_responder(body: dict[str, Any]) -> Reply:
    """Replies with the last user message, so any request gets a deterministic answer."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return f"echo: {message['content']}"
    return "ok"


def scripted(*replies: Reply) -> Responder:
    """Plays ``replies`` in order, one per request; running out is a test bug, reported as a 500."""
    queue = list(replies)

    def responder(body: dict[str, Any]) -> Reply:
        if not queue:
            raise IndexError(f"scripted responder exhausted after {len(replies)} replies")
        return queue.pop(0)

    return responder


def route_by_model(routes: Mapping[str, Responder], default: Responder | None = None) -> Responder:
    """Dispatches on the request's ``model``: one responder per role when each role has its own model."""

    def responder(body: dict[str, Any]) -> Reply:
        handler = routes.get(body.get("model", ""), default)
        if handler is None:
            raise KeyError(f"no responder for model {body.get('model')!r}")
        return handler(body)

    return responder


class FakeOpenAIServer:
    """POST /v1/chat/completions (non-streaming) and GET /v1/models on 127.0.0.1, scripted and faulty."""

    def __init__(
        self,
        responder: Responder = echo_responder,
        *,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        faults: Sequence[Fault] = DEFAULT_FAULTS,
        seed: int = 0,
        transient_repeats: int = 1,
        keep_requests: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        if fault_rate and not faults:
            raise ValueError("fault_rate > 0 needs at least one fault")
        self.responder = responder
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.seed = seed
        self.transient_repeats = transient_repeats
        self.keep_requests = keep_requests
        self.host = host
        self.port = port
        self.request_count = 0
        self.requests_by_model: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._seen: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serial = 0

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve on a daemon thread with its own event loop; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def reset_counts(self) -> None:
        """Forget counted requests (not the fault occurrences), e.g. between a cold and a warm run."""
        self.request_count = 0
        self.requests_by_model.clear()
        self.faults_injected.clear()
        self.requests.clear()
        self.max_in_flight = self.in_flight

    async def _bind(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def serve_forever(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Run in the caller's event loop (the ``main`` entry point for a separate process)."""
        await self._bind()
        assert self._server is not None
        if on_ready is not None:
            on_ready(self.port)
        async with self._server:
            await self._server.serve_forever()

    # ----------------------------------------------------------------- HTTP/1.1

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                method, target, version = request_line.decode("latin-1").split(maxsplit=2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                answer = await self._dispatch(method, target.split("?", 1)[0], raw)
                if answer is None:  # injected disconnect
                    break
                status, payload, extra_headers = answer
                head = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(payload)}",
                    *(f"{k}: {v}" for k, v in extra_headers.items()),
                ]
                keep_alive = version.strip() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                head.append("Connection: keep-alive" if keep_alive else "Connection: close")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _dispatch(self, method: str, path: str, raw: bytes) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            models = [{"id": m, "object": "model", "owned_by": "fake"} for m in sorted(self.requests_by_model)]
            return 200, _dumps({"object": "list", "data": models}), {}
        if method == "GET" and path == "/_stats":
            stats = {"request_count": self.request_count, "requests_by_model": dict(self.requests_by_model),
                     "faults_injected": dict(self.faults_injected), "errors": self.errors[-20:]}
            return 200, _dumps(stats), {}
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return 404, _error(f"no route for {method} {path}", "not_found"), {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            return 400, _error(f"request body is not JSON: {exc}", "invalid_request_error"), {}
        if not isinstance(body, dict) or "messages" not in body or "model" not in body:
            return 400, _error("request needs 'model' and 'messages'", "invalid_request_error"), {}
        if body.get("stream"):
            return 400, _error("streaming is not supported by the fake server", "invalid_request_error"), {}

        self.request_count += 1
        self.requests_by_model[str(body["model"])] += 1
        if self.keep_requests:
            self.requests.append(body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body)
        finally:
            self.in_flight -= 1

    async def _answer(self, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]] | None:
        injected = self._draw_fault(body)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)

        if injected is not None and injected.transient:
            return await self._transient(injected)
        try:
            reply = self.responder(body)
        except Exception as exc:  # a broken script is a test bug: make it loud
            message = f"responder failed: {type(exc).__name__}: {exc}"
            self.errors.append(message)
            return 500, _error(message, "server_error"), {}
        if isinstance(reply, Fault):
            if reply.transient:
                return await self._transient(reply)
            injected, reply = reply, reply.text if reply.text is not None else ""
        elif injected is not None:
            self.faults_injected[injected.kind] += 1
        return 200, _dumps(self._completion(body, reply, injected)), {}

    async def _transient(self, fault: Fault) -> tuple[int, bytes, dict[str, str]] | None:
        self.faults_injected[fault.kind if fault.kind != "http" else f"http_{fault.status}"] += 1
        if fault.kind == "http":
            headers = {} if fault.retry_after_s is None else {"Retry-After": f"{fault.retry_after_s:g}"}
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            return fault.status, _error(f"injected HTTP {fault.status}", kind), headers
        if fault.kind == "timeout":
            await asyncio.sleep(fault.sleep_s)
            return 200, _dumps({"choices": [], "note": "answered after the client gave up"}), {}
        if fault.kind == "malformed_json":
            return 200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess', {}
        return None  # disconnect

    def _draw_fault(self, body: dict[str, Any]) -> Fault | None:
        """Deterministic per request body: the same request gets the same fault in every run."""
        if not self.fault_rate:
            return None
        digest = hashlib.sha256(f"{self.seed}\x00".encode() + _canonical(body)).digest()
        occurrence = self._seen[digest.hex()]
        self._seen[digest.hex()] += 1
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.fault_rate:
            return None
        fault = self.faults[int.from_bytes(digest[8:16], "big") % len(self.faults)]
        if fault.transient and occurrence >= self.transient_repeats:
            return None
        return fault

    # ----------------------------------------------------------------- OpenAI JSON

    def _completion(self, body: dict[str, Any], reply: Reply, fault: Fault | None) -> dict[str, Any]:
        if isinstance(reply, str):
            reply = {"content": reply}
        assert isinstance(reply, Mapping)
        content = reply.get("content")
        tool_calls = [_tool_call(call, body, i) for i, call in enumerate(reply.get("tool_calls") or [])]
        finish = reply.get("finish_reason") or ("tool_calls" if tool_calls else "stop")
        if fault is not None and fault.kind == "truncated":
            content = (content or "")[: len(content or "") // 2]
            tool_calls, finish = [], "length"
        elif fault is not None and fault.kind == "missing_tags":
            content = re.sub(r"</?[A-Za-z_][\w\-]*>", "", content or "")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        for extra in ("reasoning_content", "reasoning"):
            if extra in reply:
                message[extra] = reply[extra]
        prompt_tokens = _approx_tokens(json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", [])))
        completion_tokens = _approx_tokens((content or "") + json.dumps(tool_calls) if tool_calls else content or "")
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens, **dict(reply.get("usage") or {})}
        self._serial += 1
        return {
            "id": f"chatcmpl-fake-{self._serial}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }


def _tool_call(call: Mapping[str, Any], body: dict[str, Any], index: int) -> dict[str, Any]:
    """Accepts the full OpenAI shape or the short ``{"name", "arguments"}``; ids are deterministic."""
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    default_id = "call_" + hashlib.sha256(_canonical(body) + str(index).encode()).hexdigest()[:16]
    return {"id": call.get("id", default_id), "type": "function",
            "function": {"name": function["name"], "arguments": arguments}}


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _error(message: str, kind: str) -> bytes:
    return _dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}})


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def main(argv: Iterable[str] | None = None) -> None:
    """Serve as a process (for benchmarks, so the client gets a core of its own). Prints ``PORT <n>``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = FakeOpenAIServer(latency_s=args.latency_ms / 1000, fault_rate=args.fault_rate, seed=args.seed,
                              keep_requests=False, port=args.port)

    try:
        asyncio.run(server.serve_forever(lambda port: print(f"PORT {port}", flush=True)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
