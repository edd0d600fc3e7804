"""The fake server's own contract, and the keep-alive transport and the client's direct route against odd but legal
HTTP responses."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import FakeOpenAIServer, Fault  # noqa: E402

from synthagent.llm import LLMCallError, LLMClient, LLMConfig  # noqa: E402


def post(server: FakeOpenAIServer, body: Any, path: str = "/chat/completions") -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(server.base_url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def body(i: int, model: str = "m") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": f"request {i}"}]}


def test_openai_shape_routes_and_bad_requests() -> None:
    with FakeOpenAIServer() as server:
        status, reply = post(server, body(1))
        assert status == 200 and reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"] == {"role": "assistant", "content": "echo: request 1"}
        assert set(reply["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
        assert post(server, body(1), path="/embeddings")[0] == 404
        assert post(server, b"{not json")[0] == 400
        with urllib.request.urlopen(server.base_url + "/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == "m"
        assert server.request_count == 1 and server.requests_by_model == {"m": 1}


def test_a_broken_responder_is_loud() -> None:
    with FakeOpenAIServer(lambda body: 1 / 0) as server:  # type: ignore[arg-type,return-value]
        status, reply = post(server, body(1))
        assert status == 500 and "ZeroDivisionError" in reply["error"]["message"]
        assert server.errors == ["responder failed: ZeroDivisionError: division by zero"]


def test_fault_draws_depend_on_seed_and_body_only() -> None:
    def statuses(seed: int, order: list[int]) -> dict[int, int]:
        with FakeOpenAIServer(fault_rate=0.3, faults=[Fault.server_error()], seed=seed) as server:
            return {i: post(server, body(i))[0] for i in order}

    forward = statuses(1, list(range(60)))
    assert statuses(1, list(reversed(range(60)))) == forward
    assert 8 <= list(forward.values()).count(500) <= 30
    assert statuses(2, list(range(60))) != forward


def test_transient_faults_clear_on_retry_content_faults_persist() -> None:
    with FakeOpenAIServer(lambda b: "<a>x</a>", fault_rate=1.0, faults=[Fault.rate_limited()]) as server:
        assert [post(server, body(1))[0] for _ in range(3)] == [429, 200, 200]
    with FakeOpenAIServer(lambda b: "<a>xyzw</a>", fault_rate=1.0, faults=[Fault.missing_tags()]) as server:
        assert {post(server, body(1))[1]["choices"][0]["message"]["content"] for _ in range(2)} == {"xyzw"}
    with FakeOpenAIServer(lambda b: "abcdefgh", fault_rate=1.0, faults=[Fault.truncated()]) as server:
        choice = post(server, body(1))[1]["choices"][0]
        assert (choice["message"]["content"], choice["finish_reason"]) == ("abcd", "length")


COMPLETION = {"id": "x", "object": "chat.completion", "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "raw reply"},
                           "finish_reason": "stop"}]}


async def raw_server(style: str, seen: list[int]) -> asyncio.Server:
    """Answers each request in one HTTP framing the keep-alive transport must also read."""
    payload = json.dumps(COMPLETION).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            if style == "chunked":
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:10], payload[10:])) + b"0\r\n\r\n"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
                await writer.drain()
                continue
            if style == "bare-lf":  # tolerated line ends: every head on the connection read line by line
                writer.write(b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: %d\n\n%s"
                             % (len(payload), payload))
                await writer.drain()
                continue
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + payload)
            await writer.drain()
            writer.close()
            return

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize("style, connections", [("chunked", 1), ("read-to-close", 3), ("bare-lf", 1)])
def test_transport_reads_chunked_and_close_delimited_bodies(style: str, connections: int) -> None:
    async def go() -> None:
        seen: list[int] = []
        server = await raw_server(style, seen)
        port = server.sockets[0].getsockname()[1]
        config = LLMConfig.for_endpoint(f"http://127.0.0.1:{port}/v1", "m")
        async with server, LLMClient(config) as client:
            for _ in range(3):
                assert (await client.chat("teacher", [{"role": "user", "content": "hi"}])).text == "raw reply"
        assert len(seen) == connections  # chunked keeps one connection alive; HTTP/1.0 reconnects

    asyncio.run(go())


@pytest.mark.parametrize("scheme", ["http", "https"])  # the keep-alive transport, the SDK's own
def test_connection_refused_is_a_retryable_connection_error(scheme: str) -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url.replace("http", scheme, 1)
    config = LLMConfig.for_endpoint(url, "m", max_retries=1, backoff_base_s=0.01)

    async def go() -> None:
        async with LLMClient(config) as client:
            await client.chat("teacher", [{"role": "user", "content": "hi"}])

    with pytest.raises(LLMCallError, match=r"after 2 attempt\(s\) \(retries exhausted\): connection error"):
        asyncio.run(go())


async def scripted_http_server(answers: list[bytes], heads: list[bytes]) -> asyncio.Server:
    """Answers the n-th request with ``answers[n]`` (raw HTTP), recording each request head."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                heads.append(head)
                writer.write(answers[min(len(heads), len(answers)) - 1])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def http_reply(status: str, body: bytes, *headers: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status.encode(), len(body), b"".join(h + b"\r\n" for h in headers), body)


def header_fields(head: bytes) -> dict[bytes, bytes]:
    lines = head.split(b"\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines if line)}


def test_direct_route_sends_the_sdks_own_request_head() -> None:
    import openai

    from synthagent.llm.transport import KeepAliveTransport

    ok = http_reply("200 OK", json.dumps(COMPLETION).encode(), b"Content-Type: application/json")

    async def go() -> tuple[list[bytes], list[bytes]]:
        direct: list[bytes] = []
        via_sdk: list[bytes] = []
        for heads in (direct, via_sdk):
            server = await scripted_http_server([ok], heads)
            url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
            async with server:
                if heads is direct:
                    async with LLMClient(LLMConfig.for_endpoint(url, "m", timeout_s=7.0)) as client:
                        await client.chat("teacher", [{"role": "user", "content": "hi"}])
                else:  # what the client sent before it had a direct route
                    sdk = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0,
                                             http_client=openai.DefaultAsyncHttpxClient(transport=KeepAliveTransport()))
                    await sdk.post("/chat/completions", body={"model": "m"}, cast_to=object, options={"timeout": 7.0})
                    await sdk.close()
        return direct, via_sdk

    direct, via_sdk = asyncio.run(go())
    assert direct[0].split(b"\r\n")[0] == via_sdk[0].split(b"\r\n")[0] == b"POST /v1/chat/completions HTTP/1.1"
    mine, theirs = header_fields(direct[0]), header_fields(via_sdk[0])
    assert mine.pop(b"content-length") != theirs.pop(b"content-length")  # only the bodies differ
    assert mine.pop(b"host") != theirs.pop(b"host")  # and the two servers' ports
    assert mine == theirs and theirs[b"x-stainless-read-timeout"] == b"7.0"


@pytest.mark.parametrize("answer, outcome", [
    (http_reply("200 OK", gzip.compress(json.dumps(COMPLETION).encode()),
                b"Content-Type: application/json", b"Content-Encoding: gzip"), "raw reply"),
    (http_reply("302 Found", b"", b"Location: /v1/moved"), "raw reply"),  # the SDK follows it
    (http_reply("200 OK", json.dumps({**COMPLETION, "score": float("nan")}).encode(),  # not strict JSON, but
                b"Content-Type: application/json"), "raw reply"),  # the SDK's parser takes it
    (http_reply("200 OK", b"plain words", b"Content-Type: text/plain"), "MalformedResponse"),
    (http_reply("400 Bad Request", b'{"error": {"message": "no such model"}}', b"Content-Type: application/json"),
     "non-retryable error): HTTP 400: Error code: 400 - no such model"),
    (http_reply("503 Service Unavailable", b"busy", b"Retry-After: 0"), "retries exhausted): HTTP 503"),
])
def test_direct_route_reads_replies_like_the_sdk(answer: bytes, outcome: str) -> None:
    ok = http_reply("200 OK", json.dumps(COMPLETION).encode(), b"Content-Type: application/json")

    async def go() -> str:
        heads: list[bytes] = []
        server = await scripted_http_server([answer, ok] if b"302" in answer else [answer], heads)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        config = LLMConfig.for_endpoint(url, "m", max_retries=1, backoff_base_s=0.01)
        async with server, LLMClient(config) as client:
            try:
                return (await client.chat("teacher", [{"role": "user", "content": "hi"}])).text
            except LLMCallError as exc:
                return str(exc)

    assert outcome in asyncio.run(go())
