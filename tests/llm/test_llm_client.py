"""LLMClient against the local fake server: retries, cache, budget, accounting, concurrency."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import FakeOpenAIServer, Fault, route_by_model, scripted  # noqa: E402

from synthagent.llm import BudgetExceeded, LLMCallError, LLMClient, LLMConfig, ResponseCache  # noqa: E402

USER = [{"role": "user", "content": "hello"}]


def config(server: FakeOpenAIServer, **overrides: Any) -> LLMConfig:
    settings: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}
    settings.update(overrides)
    return LLMConfig.for_endpoint(server.base_url, "teacher-model", **settings)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def chat_once(cfg: LLMConfig, *args: Any, **kwargs: Any) -> Any:
    async with LLMClient(cfg) as client:
        result = await client.chat(*args, **kwargs)
        return result, client.usage


def test_plain_reply_with_usage_and_tool_calls() -> None:
    reply = {"content": None, "tool_calls": [{"name": "lookup", "arguments": {"id": 7}}],
             "reasoning_content": "thinking..."}
    with FakeOpenAIServer(scripted("hi there", reply)) as server:
        async def go() -> None:
            async with LLMClient(config(server, temperature=0.2, max_tokens=64)) as client:
                first = await client.chat("teacher", USER)
                assert (first.text, first.finish_reason, first.cached) == ("hi there", "stop", False)
                assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
                tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
                second = await client.chat("teacher", USER, tools=tools, seed=3)
                assert second.finish_reason == "tool_calls" and second.text == ""
                call = second.tool_calls[0]
                assert call["type"] == "function" and call["id"].startswith("call_")
                assert call["function"] == {"name": "lookup", "arguments": '{"id": 7}'}
                assert second.reasoning == "thinking..."
                assert second.message()["tool_calls"] == second.tool_calls

        run(go())
        sent = server.requests[1]
        assert sent["temperature"] == 0.2 and sent["max_tokens"] == 64 and sent["seed"] == 3
        assert sent["tools"][0]["function"]["name"] == "lookup"


def test_retries_on_429_500_timeout_malformed_and_disconnect_then_success() -> None:
    faults = [Fault.rate_limited(), Fault.server_error(), Fault.timeout(3.0), Fault.malformed_json(),
              Fault.disconnect(), Fault.http(503)]
    with FakeOpenAIServer(scripted(*faults, "finally")) as server:
        result, usage = run(chat_once(config(server, timeout_s=0.3, max_retries=6), "teacher", USER))
        assert result.text == "finally"
        assert usage["teacher"]["calls"] == 7 and usage["teacher"]["retries"] == 6
        assert server.request_count == 7 and not server.errors


def test_retries_exhausted_raise_a_clear_error() -> None:
    with FakeOpenAIServer(lambda body: Fault.server_error()) as server:
        with pytest.raises(LLMCallError) as info:
            run(chat_once(config(server, max_retries=2), "judge", USER))
        message = str(info.value)
        assert "judge call to model 'teacher-model'" in message
        assert "after 3 attempt(s) (retries exhausted)" in message and "HTTP 500" in message
        assert info.value.retryable and server.request_count == 3


def test_non_retryable_errors_fail_at_once() -> None:
    with FakeOpenAIServer(lambda body: Fault.http(400)) as server:
        with pytest.raises(LLMCallError, match=r"after 1 attempt\(s\) \(non-retryable error\): HTTP 400"):
            run(chat_once(config(server), "teacher", USER))
        assert server.request_count == 1


def test_retry_after_header_is_honoured() -> None:
    with FakeOpenAIServer(scripted(Fault.rate_limited(retry_after_s=0.3), "ok")) as server:
        started = time.perf_counter()
        result, _ = run(chat_once(config(server, backoff_max_s=1.0), "teacher", USER))
        assert result.text == "ok" and time.perf_counter() - started >= 0.3


def test_warm_cache_makes_zero_calls_and_salt_separates_samples(tmp_path: Path) -> None:
    cfg = lambda server: config(server, cache_path=tmp_path / "cache.sqlite", temperature=1.0)  # noqa: E731
    prompts = [[{"role": "user", "content": f"task {i}"}] for i in range(5)]

    async def sweep(client: LLMClient) -> list[str]:
        plain = [client.chat("teacher", p) for p in prompts]
        salted = [client.chat("teacher", prompts[0], cache_salt=k) for k in range(4)]
        return [r.text for r in await asyncio.gather(*plain, *salted)]

    counter = iter(range(1000))
    with FakeOpenAIServer(lambda body: f"sample {next(counter)}") as server:
        async def cold() -> list[str]:
            async with LLMClient(cfg(server)) as client:
                return await sweep(client)

        first = run(cold())
        assert server.request_count == 9  # 5 prompts + 4 salted samples of prompt 0
        assert len(set(first[5:])) == 4  # k samples stay k samples
        server.reset_counts()

        async def warm() -> tuple[list[str], dict[str, dict[str, int]]]:
            async with LLMClient(cfg(server)) as client:
                texts = await sweep(client)
                return texts, client.usage

        second, usage = run(warm())
        assert server.request_count == 0
        assert second == first
        assert usage["teacher"]["cache_hits"] == 9 and usage["teacher"]["calls"] == 0
        assert usage["teacher"]["prompt"] == 0 and usage["teacher"]["cached_prompt"] > 0

        result, _ = run(chat_once(cfg(server), "teacher", prompts[0], temperature=0.5))
        assert not result.cached and server.request_count == 1  # another sampling parameter, another key


def test_identical_requests_in_flight_are_sent_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_s=0.1) as server:
        async def go() -> list[bool]:
            async with LLMClient(config(server, cache_path=tmp_path / "c.sqlite")) as client:
                results = await asyncio.gather(*(client.chat("teacher", USER) for _ in range(5)))
                return [r.cached for r in results]

        assert sorted(run(go())) == [False, True, True, True, True]
        assert server.request_count == 1


def test_token_budget_stops_cleanly_before_the_next_call(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        async def go() -> tuple[int, int]:
            async with LLMClient(config(server, token_budget=30, cache_path=tmp_path / "c.sqlite")) as client:
                made = 0
                with pytest.raises(BudgetExceeded) as info:
                    for i in range(100):
                        await client.chat("teacher", [{"role": "user", "content": f"question number {i}"}])
                        made += 1
                assert info.value.spent >= 30 and client.tokens_spent == info.value.spent
                calls_before = server.request_count
                again = await client.chat("teacher", [{"role": "user", "content": "question number 0"}])
                assert again.cached  # cached answers stay free after the budget is spent
                with pytest.raises(BudgetExceeded):
                    await client.chat("teacher", [{"role": "user", "content": "something new"}])
                assert server.request_count == calls_before
                return made, calls_before

        made, calls = run(go())
        assert 0 < made < 100 and calls == made


def test_per_role_and_per_stage_accounting() -> None:
    routes = {"teacher-model": lambda body: "a teacher reply", "judge-model": lambda body: "KEEP"}
    with FakeOpenAIServer(route_by_model(routes)) as server:
        cfg = LLMConfig(roles={"default": {"model": "teacher-model", "base_url": server.base_url},
                               "judge": {"model": "judge-model", "base_url": server.base_url}})

        async def go() -> LLMClient:
            async with LLMClient(cfg) as client:
                await client.chat("teacher", USER, stage="toolset")
                await client.chat("teacher", [{"role": "user", "content": "again"}], stage="rubric")
                await client.chat("judge", USER, stage="rubric")
                await client.chat("user", [{"role": "user", "content": "x"}])
                return client

        client = run(go())
        usage = client.usage
        assert usage["teacher"]["calls"] == 2 and usage["judge"]["calls"] == 1 and usage["user"]["calls"] == 1
        assert all(usage[r]["prompt"] > 0 and usage[r]["completion"] > 0 for r in ("teacher", "judge", "user"))
        assert server.requests_by_model == {"teacher-model": 3, "judge-model": 1}
        stages = client.usage_by_stage
        assert stages["rubric"]["calls"] == 2 and stages["toolset"]["calls"] == 1
        assert client.tokens_spent == sum(u["prompt"] + u["completion"] for u in usage.values())


def test_concurrency_is_bounded() -> None:
    with FakeOpenAIServer(latency_s=0.05) as server:
        async def go() -> None:
            async with LLMClient(config(server, concurrency=4)) as client:
                await asyncio.gather(*(client.chat("teacher", [{"role": "user", "content": str(i)}])
                                       for i in range(20)))

        run(go())
        assert server.max_in_flight == 4 and server.request_count == 20


def test_injected_faults_are_seeded_and_survived() -> None:
    transient = [Fault.rate_limited(), Fault.server_error(), Fault.malformed_json(), Fault.disconnect()]

    def sweep() -> tuple[dict[str, int], list[str]]:
        with FakeOpenAIServer(fault_rate=0.4, faults=transient, seed=7) as server:
            async def go() -> list[str]:
                async with LLMClient(config(server, concurrency=8)) as client:
                    results = await asyncio.gather(*(client.chat("teacher", [{"role": "user", "content": str(i)}])
                                                     for i in range(40)))
                    assert client.usage["teacher"]["retries"] == sum(server.faults_injected.values())
                    return [r.text for r in results]

            texts = run(go())
            return dict(server.faults_injected), texts

    faults, texts = sweep()
    assert 5 < sum(faults.values()) < 30
    assert texts == [f"echo: {i}" for i in range(40)]
    assert sweep()[0] == faults  # same seed, same faults, whatever the arrival order


def test_one_client_serves_several_event_loops() -> None:
    with FakeOpenAIServer() as server:
        client = LLMClient(config(server))
        assert run(client.chat("teacher", USER)).text == "echo: hello"
        assert run(client.chat("teacher", USER)).text == "echo: hello"
        run(client.aclose())
        assert client.usage["teacher"]["calls"] == 2


def _write_entries(path: str, start: int) -> None:
    cache = ResponseCache(path)
    for i in range(start, start + 200):
        cache.put(f"key-{i}", {"value": i})
    cache.close()


def test_cache_is_shared_safely_between_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_entries, args=(path, start)) for start in (0, 200, 400)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    cache = ResponseCache(path)
    assert len(cache) == 600 and cache.get("key-599") == {"value": 599}
    assert json.dumps(cache.get("key-0")) == '{"value": 0}'


def test_cache_opening_outlasts_a_lock_sqlite_reports_without_waiting(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite can refuse the WAL switch with "database is locked" at once while another process opens or
    closes the file (it broke a `--workers 2` run in CI); opening tries again, and other errors still raise."""
    import sqlite3

    real_connect = sqlite3.connect

    class LockedAtFirst(sqlite3.Connection):
        refusals = 3

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith("PRAGMA journal_mode") and LockedAtFirst.refusals:
                LockedAtFirst.refusals -= 1
                raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=LockedAtFirst, **k))
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert LockedAtFirst.refusals == 0
    cache.put("a", {"text": "kept"})
    cache.close()
    assert ResponseCache(tmp_path / "c.sqlite").get("a") == {"text": "kept"}

    class Broken(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Broken, **k))
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        ResponseCache(tmp_path / "d.sqlite")


def test_cache_writes_behind_and_knows_the_keys_present_at_open(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = ResponseCache(path, flush_interval_s=0.02)
    writer.put("a", {"text": "first"})
    assert writer.get("a") == {"text": "first"} and "a" in writer  # readable before it reaches the file
    deadline = time.monotonic() + 5
    while writer.pending and time.monotonic() < deadline:  # the background flush, no close needed
        time.sleep(0.01)
    reader = ResponseCache(path)
    assert reader.get("a") == {"text": "first"}
    writer.put("b", {"text": "second"})
    writer.flush()
    assert reader.get("b") is None  # written by another connection after this one opened: a miss
    writer.close()
    writer.close()  # harmless
    with pytest.raises(ValueError, match="closed"):
        writer.put("c", {})
    assert ResponseCache(path).get("b") == {"text": "second"}  # a reopened cache sees everything
    reader.close()


def test_cache_flushes_a_full_batch_at_once(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite", flush_every=3, flush_interval_s=60.0)
    for i in range(3):
        cache.put(f"k{i}", {"i": i})
    assert cache.pending == 0
    other = ResponseCache(tmp_path / "c.sqlite")
    assert len(other) == 3
    other.close()
    cache.close()


def test_integer_keys_are_sent_as_strings_as_by_the_sdk() -> None:
    with FakeOpenAIServer() as server:
        result, _ = run(chat_once(config(server), "teacher", USER, logit_bias={50256: -100}))
        assert result.text == "echo: hello" and server.requests[0]["logit_bias"] == {"50256": -100}
