"""Strict structured-output parsing and the single repair attempt."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import FakeOpenAIServer, Fault, scripted  # noqa: E402

from synthagent.llm import (  # noqa: E402
    LLMClient,
    LLMConfig,
    ParseError,
    StructuredOutputError,
    chat_structured,
    extract_tag,
    extract_tags,
    json_model,
    parse_json_object,
)


def reason(fn: object, *args: object) -> str:
    with pytest.raises(ParseError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.reason


def test_extract_tag_accepts_exactly_one_block() -> None:
    assert extract_tag("prose <task> Book a flight </task> more", "task") == "Book a flight"
    assert extract_tag("<think><task>draft</task></think><task>final</task>", "task") == "final"
    assert extract_tags("<q>a</q><q>b</q>", "q") == ["a", "b"]
    assert reason(extract_tag, "no tags here", "task") == "no <task>...</task> block found"
    assert reason(extract_tag, "<q>a</q> <q>b</q>", "q") == "found 2 <q> blocks; expected exactly one"
    assert reason(extract_tag, "<q>  </q>", "q") == "<q> block is empty"
    assert "never closed" in reason(extract_tag, "ok <q>cut off mid-sent", "q")
    assert "opened again at char 7" in reason(extract_tag, "<q>one <q>two</q>", "q")
    assert "has no matching <q>" in reason(extract_tag, "<q>a</q> stray </q>", "q")
    with pytest.raises(ValueError, match="not a valid tag name"):
        extract_tag("x", "bad tag")


def test_parse_json_object_fenced_or_first_balanced() -> None:
    assert parse_json_object('Here:\n```json\n{"a": 1}\n```\nthanks {"b": 2}') == {"a": 1}
    assert parse_json_object('Sure! {"text": "braces } inside { strings", "n": {"m": 2}} bye') == {
        "text": "braces } inside { strings", "n": {"m": 2}}
    assert parse_json_object('```\n{"plain": true}\n```') == {"plain": True}
    assert reason(parse_json_object, "no json at all") == "no JSON object found (no '{' in the reply)"
    assert "never closed (1 unclosed brace(s)" in reason(parse_json_object, 'x {"a": {"b": 1}')
    assert reason(parse_json_object, "```json\n[1, 2]\n```") == "the ```json block holds a JSON list, expected an object"
    bad = reason(parse_json_object, '{"a": 1,}')
    assert bad.startswith("invalid JSON in the first {...} in the reply") and "line 1 column 9" in bad
    assert "never closed" in reason(parse_json_object, '```json\n{"a": 1}')


class Verdict(BaseModel):
    verdict: str
    score: float


def test_json_model_reports_each_field() -> None:
    parse = json_model(Verdict)
    assert parse('{"verdict": "KEEP", "score": 0.5}') == Verdict(verdict="KEEP", score=0.5)
    why = reason(parse, '{"verdict": "KEEP", "score": "high"}')
    assert why.startswith("JSON does not match Verdict: score:")


def structured(server: FakeOpenAIServer, **kwargs: object) -> object:
    async def go() -> object:
        config = LLMConfig.for_endpoint(server.base_url, "teacher-model", backoff_base_s=0.01)
        async with LLMClient(config) as client:
            return await chat_structured(client, "teacher", [{"role": "user", "content": "make a task"}],
                                         lambda text: extract_tag(text, "task"), **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_one_repair_attempt_carries_the_exact_reason() -> None:
    with FakeOpenAIServer(scripted(Fault.missing_tags("<task>Plan a trip</task>"), "<task>Plan a trip</task>")) as server:
        result = structured(server)
        assert result.value == "Plan a trip" and result.attempts == 2  # type: ignore[attr-defined]
        assert result.rejections == ["no <task>...</task> block found"]  # type: ignore[attr-defined]
        assert result.usage.total_tokens > result.result.usage.total_tokens  # type: ignore[attr-defined]
        repair = server.requests[1]["messages"]
        assert repair[-2] == {"role": "assistant", "content": "Plan a trip"}
        assert "no <task>...</task> block found" in repair[-1]["content"]


def test_failed_repair_raises_with_every_reason() -> None:
    with FakeOpenAIServer(scripted(Fault.truncated("<task>A very long task that gets cut</task>"),
                                   "still no tags")) as server:
        with pytest.raises(StructuredOutputError) as info:
            structured(server)
        first, second = info.value.reasons
        assert "never closed" in first and "finish_reason=length" in first
        assert second == "no <task>...</task> block found"
        assert info.value.last_text == "still no tags"
        assert "cut off at the token limit" in server.requests[1]["messages"][-1]["content"]


def test_repair_can_be_switched_off() -> None:
    with FakeOpenAIServer(scripted("no tags")) as server:
        with pytest.raises(StructuredOutputError) as info:
            structured(server, repair=False)
        assert info.value.reasons == ["no <task>...</task> block found"] and server.request_count == 1
