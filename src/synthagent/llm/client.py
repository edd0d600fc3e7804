"""The one client every stage uses to call a model: ``await client.chat(role, messages)``.

Synthesis makes hundreds of thousands of calls to endpoints that rate-limit, crash, hang and get restarted.
This layer makes that boring: a bounded number of calls in flight, retries with jittered exponential
backoff on anything transient (counted, so the SDK's own silent retries are switched off), token
accounting per role and per stage, a token budget that stops the run cleanly *before* the next call, and
an SQLite cache so a rerun costs nothing.

State that belongs to an event loop (the semaphore, the SDK's HTTP pools, in-flight requests) is kept per
loop, so one client survives several ``asyncio.run`` calls.

Calls go through ``AsyncOpenAI.post("/chat/completions", cast_to=object)``, the SDK's documented route for
raw requests, rather than ``chat.completions.create``: the typed path spends most of a millisecond per
call transforming parameters and building response models, which caps one event loop at a few hundred
calls per second; the raw route keeps the SDK's request building, auth and error mapping, and lets this
module read vendor fields (``reasoning_content``) from the plain JSON. For ``http://`` endpoints the SDK is
given :class:`~synthagent.llm.transport.KeepAliveTransport` for the same reason, and calls take a direct
route (:class:`_Route`): the request head the SDK renders is replayed with each body straight through that
transport, and replies and failures are mapped to the SDK's own exceptions, because even the raw route
costs about half a millisecond of CPU per call in option, header and URL objects (a local server at
concurrency 256 answers over a thousand calls per second). ``https://`` endpoints keep the SDK's path.
"""

from __future__ import annotations

import asyncio
import json
import random
import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import openai

from synthagent.llm.cache import ResponseCache, cache_key
from synthagent.llm.config import LLMConfig, RoleConfig
from synthagent.llm.errors import LLMError
from synthagent.llm.jsonfast import JSONDecodeError, dumps_bytes, loads
from synthagent.llm.transport import KeepAliveTransport, httpx

RETRYABLE_STATUS: Final = frozenset({408, 409, 425, 429})
USAGE_FIELDS: Final = ("prompt", "completion", "calls", "retries", "cache_hits", "cached_prompt",
                       "cached_completion", "failures")


class BudgetExceeded(LLMError):
    """The token budget is spent; raised before a new endpoint call, so the run can stop cleanly."""

    def __init__(self, spent: int, budget: int) -> None:
        super().__init__(f"token budget exhausted: {spent} of {budget} tokens spent; no further calls made")
        self.spent = spent
        self.budget = budget


class LLMCallError(LLMError):
    """A call that failed for good: a non-retryable error, or retries exhausted."""

    def __init__(self, role: str, model: str, base_url: str, attempts: int, error: BaseException,
                 retryable: bool, timeout_s: float | None = None) -> None:
        why = "retries exhausted" if retryable else "non-retryable error"
        super().__init__(
            f"{role} call to model {model!r} at {base_url} failed after {attempts} attempt(s) ({why}): "
            f"{_describe_error(error, timeout_s)}"
        )
        self.role = role
        self.model = model
        self.attempts = attempts
        self.error = error
        self.retryable = retryable


class MalformedResponse(LLMError):
    """A 200 response the SDK parsed but that holds no usable choice; retried like a server error."""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False
    """True when the server returned no usage and the counts are a chars/4 estimate."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One assistant reply. ``tool_calls`` are plain dicts in OpenAI shape (id, type, function)."""

    text: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    usage: Usage
    cached: bool
    model: str
    role: str
    reasoning: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    def message(self) -> dict[str, Any]:
        """The reply as an assistant message, ready to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [dict(call) for call in self.tool_calls]
        return message

    def to_record(self) -> dict[str, Any]:
        return {"text": self.text, "tool_calls": self.tool_calls, "finish_reason": self.finish_reason,
                "prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                "usage_estimated": self.usage.estimated, "model": self.model, "reasoning": self.reasoning}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], role: str, cached: bool) -> ChatResult:
        usage = Usage(int(record["prompt_tokens"]), int(record["completion_tokens"]),
                      bool(record.get("usage_estimated", False)))
        return cls(text=record["text"], tool_calls=list(record["tool_calls"]),
                   finish_reason=record["finish_reason"], usage=usage, cached=cached, model=record["model"],
                   role=role, reasoning=record.get("reasoning"))


@dataclass
class _LoopState:
    semaphore: asyncio.Semaphore
    routes: dict[tuple[str, str], _Route] = field(default_factory=dict)
    inflight: dict[str, asyncio.Future[ChatResult]] = field(default_factory=dict)


class LLMClient:
    """Async chat calls by role, with concurrency bound, retries, accounting, budget and cache.

    Use as ``async with LLMClient(config) as client`` or call :meth:`aclose` at the end. One event loop
    at a time may use a client (the counters are not locked); successive loops are fine.
    """

    def __init__(self, config: LLMConfig, *, seed: int = 0) -> None:
        self.config = config
        self.cache = ResponseCache(config.cache_path) if config.cache_path is not None else None
        self._rng = random.Random(seed)
        self._usage: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(USAGE_FIELDS, 0))
        self._stage_usage: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(USAGE_FIELDS, 0))
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False

    # ----------------------------------------------------------------- accounting

    @property
    def usage(self) -> dict[str, dict[str, int]]:
        """Per role: endpoint tokens (prompt, completion), endpoint requests (calls, of which retries),
        cache_hits and the tokens they saved (cached_prompt, cached_completion), and failed calls."""
        return {role: dict(counts) for role, counts in self._usage.items()}

    @property
    def usage_by_stage(self) -> dict[str, dict[str, int]]:
        """The same counters keyed by the ``stage`` label callers pass to :meth:`chat`."""
        return {stage: dict(counts) for stage, counts in self._stage_usage.items()}

    @property
    def tokens_spent(self) -> int:
        """Tokens actually sent to and received from endpoints (cache hits are free)."""
        return sum(c["prompt"] + c["completion"] for c in self._usage.values())

    def _count(self, role: str, stage: str | None, **deltas: int) -> None:
        for bucket in (self._usage[role], self._stage_usage[stage] if stage is not None else None):
            if bucket is not None:
                for name, delta in deltas.items():
                    bucket[name] += delta

    def _check_budget(self) -> None:
        budget = self.config.token_budget
        if budget is not None and self.tokens_spent >= budget:
            raise BudgetExceeded(self.tokens_spent, budget)

    # ----------------------------------------------------------------- calls

    async def chat(
        self,
        role: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        cache_salt: str | int | None = None,
        use_cache: bool = True,
        stage: str | None = None,
        **overrides: Any,
    ) -> ChatResult:
        """One chat completion for ``role``.

        ``overrides`` replace the role's sampling settings (``temperature``, ``top_p``, ``max_tokens``,
        ``timeout_s``) or add SDK parameters (``seed``, ``stop``, ``tool_choice``, ``response_format``...);
        ``extra_body`` is merged over the role's. ``cache_salt`` separates otherwise identical requests, e.g.
        the k samples of one rollout group. ``stage`` labels the call in :attr:`usage_by_stage`.
        """
        settings = self.config.role(role)
        if "n" in overrides and overrides["n"] != 1:
            raise ValueError("n > 1 is not supported: make n calls with distinct cache_salt values")
        request, timeout_s = _build_request(settings, messages, tools, overrides)
        if self._closed:
            raise LLMError("the client is closed")
        cache = self.cache if use_cache else None
        state = self._state()
        if cache is None:
            return await self._call(role, settings, request, timeout_s, stage, state)
        key = cache_key(request, cache_salt)
        while True:
            record = cache.get(key)
            if record is not None:
                return self._cache_hit(record, role, stage)
            leader = state.inflight.get(key)
            if leader is None:
                break
            try:  # an identical request is in flight: share its answer instead of paying twice
                shared = await asyncio.shield(leader)
            except asyncio.CancelledError:
                if leader.cancelled():
                    continue  # the leader was cancelled, not us: take over
                raise
            return self._cache_hit(shared.to_record(), role, stage)
        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        state.inflight[key] = future
        try:
            result = await self._call(role, settings, request, timeout_s, stage, state)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            cache.put(key, result.to_record())
            future.set_result(result)
            return result
        finally:
            del state.inflight[key]

    def _cache_hit(self, record: Mapping[str, Any], role: str, stage: str | None) -> ChatResult:
        result = ChatResult.from_record(record, role, cached=True)
        self._count(role, stage, cache_hits=1, cached_prompt=result.usage.prompt_tokens,
                    cached_completion=result.usage.completion_tokens)
        return result

    async def _call(self, role: str, settings: RoleConfig, request: dict[str, Any], timeout_s: float,
                    stage: str | None, state: _LoopState) -> ChatResult:
        route = self._route(settings, state)
        body = dict(request)
        body.update(body.pop("extra_body", None) or {})
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            self._check_budget()
            async with state.semaphore:
                self._count(role, stage, calls=1, retries=1 if attempt else 0)
                try:
                    data = await route.post(body, timeout_s)
                    result = _to_result(data, role, request)
                except Exception as exc:
                    error: Exception = exc
                else:
                    self._count(role, stage, prompt=result.usage.prompt_tokens,
                                completion=result.usage.completion_tokens)
                    return result
            if not _retryable(error) or attempt == attempts - 1:
                self._count(role, stage, failures=1)
                raise LLMCallError(role, settings.model, settings.base_url, attempt + 1, error,
                                   _retryable(error), timeout_s) from error
            await asyncio.sleep(self._backoff(attempt, error))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, error: Exception) -> float:
        """Exponential with equal jitter, at least the server's Retry-After, never above the cap."""
        cap = self.config.backoff_max_s
        ceiling = min(cap, self.config.backoff_base_s * 2**attempt)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        retry_after = _retry_after(error)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, cap)

    # ----------------------------------------------------------------- plumbing

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = _LoopState(asyncio.Semaphore(self.config.concurrency))
            self._loops[loop] = state
        return state

    def _route(self, settings: RoleConfig, state: _LoopState) -> _Route:
        """One SDK client (one connection pool) per endpoint and key, sized to the concurrency bound."""
        api_key = settings.api_key()
        slot = (settings.base_url, api_key)
        route = state.routes.get(slot)
        if route is None:
            transport = KeepAliveTransport() if settings.base_url.startswith("http://") else None
            sdk = openai.AsyncOpenAI(base_url=settings.base_url, api_key=api_key, max_retries=0,
                                     http_client=_http_client(transport, self.config.concurrency))
            route = state.routes[slot] = _Route(sdk, transport)
        return route

    async def aclose(self) -> None:
        """Close the HTTP pools of the running loop and the cache; the client is unusable afterwards."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            for route in state.routes.values():
                await route.sdk.close()
        if self.cache is not None:
            self.cache.close()
        self._closed = True

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _build_request(settings: RoleConfig, messages: Sequence[Mapping[str, Any]],
                   tools: Sequence[Mapping[str, Any]] | None,
                   overrides: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    """The SDK keyword arguments, which are also exactly what the cache key covers (minus the timeout)."""
    overrides = dict(overrides)
    timeout_s = float(overrides.pop("timeout_s", settings.timeout_s))
    extra_body = {**settings.extra_body, **(overrides.pop("extra_body", None) or {})}
    request: dict[str, Any] = {"model": overrides.pop("model", settings.model),
                               "messages": [dict(m) for m in messages]}
    if tools:
        request["tools"] = [dict(t) for t in tools]
    request.update(settings.sampling())
    request.update({k: v for k, v in overrides.items() if v is not None})
    if extra_body:
        request["extra_body"] = extra_body
    return request, timeout_s


def _to_result(data: Any, role: str, request: Mapping[str, Any]) -> ChatResult:
    """Read the OpenAI chat-completion JSON leniently where servers differ, strictly where it matters."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        raise MalformedResponse(f"response holds no choice with a message: {str(data)[:200]}")
    choice = choices[0]
    message = choice["message"]
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise MalformedResponse(f"message content is {type(text).__name__}, expected a string")
    tool_calls = [_tool_call_dict(call) for call in message.get("tool_calls") or []]
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    if isinstance(usage.get("prompt_tokens"), int):
        counted = Usage(usage["prompt_tokens"], int(usage.get("completion_tokens") or 0))
    else:
        prompt_chars = len(json.dumps(request.get("messages", []))) + len(json.dumps(request.get("tools", [])))
        counted = Usage(prompt_chars // 4, (len(text) + len(json.dumps(tool_calls))) // 4, estimated=True)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return ChatResult(text=text, tool_calls=tool_calls, finish_reason=choice.get("finish_reason") or "stop",
                      usage=counted, cached=False, model=data.get("model") or request["model"], role=role,
                      reasoning=reasoning if isinstance(reasoning, str) else None)


def _tool_call_dict(call: Any) -> dict[str, Any]:
    """Normalise to ``{"id", "type": "function", "function": {"name", "arguments": str}}``."""
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise MalformedResponse(f"tool call is not in OpenAI shape: {str(call)[:200]}")
    function = call["function"]
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):  # some servers send an object; the OpenAI shape is a JSON string
        arguments = json.dumps(arguments)
    return {"id": str(call.get("id") or ""), "type": call.get("type") or "function",
            "function": {"name": str(function.get("name") or ""), "arguments": arguments}}


def _retryable(error: BaseException) -> bool:
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRYABLE_STATUS or error.status_code >= 500
    return isinstance(error, (openai.APIConnectionError, openai.APIResponseValidationError,
                              MalformedResponse, json.JSONDecodeError))


def _retry_after(error: BaseException) -> float | None:
    if not isinstance(error, openai.APIStatusError):
        return None
    value = error.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _describe_error(error: BaseException, timeout_s: float | None = None) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"
    if isinstance(error, openai.APITimeoutError):
        return f"request timed out after {timeout_s:g} s" if timeout_s is not None else "request timed out"
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__
        return f"connection error ({type(cause).__name__}: {cause})" if cause else "connection error"
    if isinstance(error, json.JSONDecodeError):
        return f"malformed JSON response body ({error})"
    return f"{type(error).__name__}: {error}"


def _http_client(transport: KeepAliveTransport | None, concurrency: int) -> Any:
    """The lean keep-alive transport for plain http; for https, the SDK's pool sized to keep
    ``concurrency`` connections alive (its default keeps 100 and reconnects beyond that)."""
    if transport is not None:
        return openai.DefaultAsyncHttpxClient(transport=transport)
    limits = httpx.Limits(max_connections=max(concurrency, 100), max_keepalive_connections=concurrency)
    return openai.DefaultAsyncHttpxClient(limits=limits)


CHAT_PATH: Final = "/chat/completions"


class _Route:
    """How chat calls reach one endpoint: through the SDK, or, for ``http://``, straight to the transport.

    The SDK stays the client of record: it is built as for any call, it renders the request head
    (URL, auth and its own headers) and its exception classes and status-error mapping are the ones
    raised. What the direct route skips is the SDK's per-call machinery around that (request options,
    header merging, URL parsing, httpx request and response objects), about half a millisecond of CPU
    per call, which capped one event loop well below what a local server at concurrency 256 answers. The
    head the SDK renders for a timeout is kept and replayed with each new body, so the bytes on the wire
    are the SDK's own; only the body length differs. Replies are read as the SDK reads them for
    ``cast_to=object`` (JSON when the content type says so, else the text; non-2xx through the SDK's
    ``_make_status_error_from_response``); connection failures and timeouts become the SDK's
    ``APIConnectionError`` and ``APITimeoutError``. Anything unusual stays with the SDK: a client with an
    auth provider, workload identity or strict validation, a body only the SDK's encoder handles, a
    redirect, or an SDK whose internals this route does not recognise.
    """

    def __init__(self, sdk: openai.AsyncOpenAI, transport: KeepAliveTransport | None) -> None:
        self.sdk = sdk
        self.transport = transport if transport is not None and _plain(sdk) else None
        self._heads: dict[float, tuple[bytes, tuple[str, int], str]] = {}

    async def post(self, body: dict[str, Any], timeout_s: float) -> Any:
        """The parsed JSON reply, or the exception the SDK would have raised for this request."""
        head = self._heads.get(timeout_s) if self.transport is not None else None
        if head is None and self.transport is not None:
            head = self._render_head(timeout_s)
        if head is None:
            return await self._sdk_post(body, timeout_s)
        prefix, address, url = head
        try:
            blob = dumps_bytes(body)
        except TypeError:  # a value only the SDK's encoder knows (a pydantic model, a datetime...)
            return await self._sdk_post(body, timeout_s)
        assert self.transport is not None
        try:
            status, headers, content = await self.transport.send(
                address, b"%sContent-Length: %d\r\n\r\n%s" % (prefix, len(blob), blob), "POST", timeout_s,
                timeout_s)
        except httpx.TimeoutException as exc:  # as the SDK maps them (``request`` in _base_client.py)
            raise openai.APITimeoutError(request=httpx.Request("POST", url)) from exc
        except httpx.RequestError as exc:
            raise openai.APIConnectionError(request=httpx.Request("POST", url)) from exc
        if 200 <= status < 300:
            fields = {name.lower(): value for name, value in headers}
            # as the SDK reads a reply for cast_to=object: JSON when the content type says so, else the text
            json_reply = fields.get(b"content-type", b"*").decode("latin-1").split(";")[0].endswith("json")
            if json_reply and fields.get(b"content-encoding", b"identity") == b"identity":
                try:
                    return loads(content)
                except JSONDecodeError:  # the SDK's parser, which also takes NaN, decides (and names the error)
                    return json.loads(content)
            response = httpx.Response(status, headers=headers, content=content, request=httpx.Request("POST", url))
            return response.json() if json_reply else response.text  # decoded (gzip...) by httpx
        if 400 <= status < 600:
            response = httpx.Response(status, headers=headers, content=content, request=httpx.Request("POST", url))
            raise self.sdk._make_status_error_from_response(response) from None
        return await self._sdk_post(body, timeout_s)  # a redirect: sent again the SDK's way, which follows it

    async def _sdk_post(self, body: dict[str, Any], timeout_s: float) -> Any:
        return await self.sdk.post(CHAT_PATH, body=body, cast_to=object, options={"timeout": timeout_s})

    def _render_head(self, timeout_s: float) -> tuple[bytes, tuple[str, int], str] | None:
        """The SDK's request head for ``timeout_s`` without its length, or None (the SDK path then)."""
        try:
            from openai._models import FinalRequestOptions

            options = FinalRequestOptions.construct(method="post", url=CHAT_PATH, json_data={}, timeout=timeout_s)
            request = self.sdk._build_request(options)
            address = (request.url.host, request.url.port or 80)
            lines = [b"POST " + request.url.raw_path + b" HTTP/1.1"]
            lines += [name + b": " + value for name, value in request.headers.raw
                      if name.lower() not in (b"content-length", b"connection", b"transfer-encoding")]
        except Exception:  # pragma: no cover - an SDK whose internals differ: stay on its public path
            self.transport = None
            return None
        if request.url.scheme != "http" or request.method != "POST":  # pragma: no cover - defensive
            self.transport = None
            return None
        head = (b"\r\n".join(lines) + b"\r\n", address, str(request.url))
        self._heads[timeout_s] = head
        return head


def _plain(sdk: openai.AsyncOpenAI) -> bool:
    """A client with a static key and no auth hooks: its request head is the same for every call."""
    return all(getattr(sdk, name, None) is None
               for name in ("_provider_runtime", "_workload_identity_auth", "_api_key_provider", "custom_auth",
                            "_idempotency_header")) and not getattr(sdk, "_strict_response_validation", True)
