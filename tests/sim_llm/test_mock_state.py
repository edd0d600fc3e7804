"""State-aware LLM mock tools: a write changes its episode's state, later reads of that record answer from
it (and bypass M), other calls still go through M, and other rollouts never see the write."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llmsim_kit as kit  # noqa: E402
from fakeserver import FakeOpenAIServer, route_by_model  # noqa: E402

from synthagent.llm import LLMClient  # noqa: E402
from synthagent.sim.tools.llm_mock import LLMToolBackend, system_prompt  # noqa: E402
from synthagent.spec.worlds import SimulatedWorld  # noqa: E402


def server():
    return FakeOpenAIServer(kit.responder(tool=kit.state_aware_tool_responder))


def test_write_then_read_is_consistent_only_with_the_state(tmp_path):
    with server() as srv:
        aware = asyncio.run(kit.run_write_then_read(6, 3, kit.role_config(srv), tmp_path / "on"))
        blind = asyncio.run(kit.run_write_then_read(6, 3, kit.role_config(srv), tmp_path / "off", state_aware=False))
        assert not srv.errors
    assert aware["reads_after_write"] == blind["reads_after_write"] == 6 * 3 * 2
    assert aware["read_after_write_consistency"] == 1.0
    assert blind["read_after_write_consistency"] < 0.5  # without the state, M serves the read from before the write
    assert aware["state_reads"] == 6 * 3 and aware["state_hits"] == 6 * 3  # the repeat is served by the session
    assert aware["m_hit_rate"] > 0  # reads of untouched records and repeated writes still hit M


def test_a_session_write_is_invisible_to_other_sessions_and_kept_out_of_M(tmp_path):
    task = kit.write_read_task(0)

    async def go():
        async with LLMClient(kit.role_config(srv)) as client:
            backend = LLMToolBackend(client, tmp_path)
            one, two = backend.session(task), backend.session(task)
            before = await one.call("get_record", {"record_id": "A-100"})
            await one.call("set_status", {"record_id": "A-100", "status": "closed"})
            after = await one.call("get_record", {"record_id": "A-100"})
            other = await two.call("get_record", {"record_id": "A-100"})
            return before, after, other, backend.mapping(task.id)

    with server() as srv:
        before, after, other, mapping = asyncio.run(go())
    assert '"closed"' in after.content and '"closed"' not in before.content
    assert other.content == before.content and other.cache_hit  # the other rollout reads the old record from M
    assert [e.tool for e in mapping.entries] == ["get_record", "set_status"]  # the state read is not in M


def test_world_state_is_shown_to_the_simulator_only_when_given():
    task = kit.write_read_task(1)
    assert "# The state of the world" not in system_prompt(task)
    stated = task.model_copy(update={"world": SimulatedWorld(state={"record": {"status": "frozen"}})})
    assert '"frozen"' in system_prompt(stated).split("# The state of the world at the start", 1)[1]


def test_a_reuse_reply_to_a_state_read_is_repaired(tmp_path):
    """A simulator that answers a state read with a reuse gets a repair request naming why."""
    seen = []

    def stubborn(body):
        prompt = body["messages"][-1]["content"]
        seen.append(prompt)
        if "<state>" in body["messages"][1]["content"] and len(body["messages"]) == 2:
            return '{"reuse": 0}'
        return kit.state_aware_tool_responder({**body, "messages": body["messages"][:2]})  # the call, not the repair

    task = kit.write_read_task(2)

    async def go():
        async with LLMClient(kit.role_config(srv)) as client:
            session = LLMToolBackend(client, tmp_path).session(task)
            await session.call("get_record", {"record_id": "B-100"})
            await session.call("set_status", {"record_id": "B-100", "status": "open"})
            return await session.call("get_record", {"record_id": "B-100"})

    with FakeOpenAIServer(route_by_model({kit.MODELS["tool"]: stubborn})) as srv:
        result = asyncio.run(go())
    assert not result.error and '"open"' in result.content
    assert any("not a reuse" in p for p in seen)
