"""The LLM user simulator against the scripted local server: prompt, role flip, reveals, stops, faults."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llmsim_kit as kit  # noqa: E402
from fakeserver import FakeOpenAIServer, route_by_model, scripted  # noqa: E402
from testkit import make_task  # noqa: E402

from synthagent.llm import LLMClient  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.rollout.metrics import attribute  # noqa: E402
from synthagent.sim.reference import OraclePolicy  # noqa: E402
from synthagent.sim.runtime import run_episode  # noqa: E402
from synthagent.sim.tools.executable import ExecutableBackend  # noqa: E402
from synthagent.sim.users.llm import GREETING, RETRY_NOTE, LLMUser, flip_roles, parse_reply  # noqa: E402
from synthagent.spec.models import FunctionCall, Message, ToolCall  # noqa: E402


class Say:
    """A policy that says fixed lines, then answers."""

    name = "say"

    def __init__(self, *lines: str):
        self.lines = lines

    def session(self, task, seed):
        lines = list(self.lines)

        class S:
            def act(self, messages, tools):
                text = lines.pop(0) if lines else "<answer>done</answer>"
                return Message(role="assistant", actor="agent", content=text)

        return S()


def episode(server, task, policy, **user_kwargs):
    async def go():
        async with LLMClient(kit.role_config(server, max_retries=0)) as client:
            return await run_episode(task, policy, LLMUser(client, **user_kwargs), ExecutableBackend(), seed=3)

    return asyncio.run(go())


def user_server(user_responder):
    return FakeOpenAIServer(route_by_model({kit.MODELS["user"]: user_responder}))


def test_opening_is_the_instruction_without_a_model_call():
    task = make_task("retail", 1, 3)
    with user_server(kit.user_responder) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                return LLMUser(client).session(task, 0).opening()

        assert asyncio.run(go()) == task.instruction
        assert server.request_count == 0


def test_role_flip_hides_tool_traffic_and_merges_turns():
    history = [
        Message(role="system", actor="system", content="policy"),
        Message(role="user", actor="user", content="I need help."),
        Message(role="assistant", actor="agent", content="thinking aloud",
                tool_calls=[ToolCall(id="c1", function=FunctionCall(name="get_order", arguments="{}"))]),
        Message(role="tool", actor="tool", content='{"secret": 1}', tool_call_id="c1", name="get_order"),
        Message(role="assistant", actor="agent", content="What is your ZIP code?"),
        Message(role="user", actor="user", content="", error=True),
        Message(role="assistant", actor="agent", content="Your ZIP code, please?"),
    ]
    flipped = flip_roles(history, "Your ZIP code, please?")
    assert flipped == [
        {"role": "user", "content": GREETING},
        {"role": "assistant", "content": "I need help."},
        {"role": "user", "content": "What is your ZIP code?\n\nYour ZIP code, please?"},
    ]
    assert all("secret" not in m["content"] and "thinking aloud" not in m["content"] for m in flipped)


def test_parse_reply_signals_and_cleanup():
    assert parse_reply("User: Thanks, that's all. ###STOP###") == ("Thanks, that's all.", "done")
    assert parse_reply("ok ### TRANSFER ###") == ("ok", "transfer")
    assert parse_reply("###OUT-OF-SCOPE###") == ("", "out_of_scope")
    assert parse_reply("<think>the value is 1</think>It's 42.") == ("It's 42.", None)
    assert parse_reply("<think>never finished") == ("", None)
    assert parse_reply("   ") == ("", None)


def test_oracle_with_llm_user_reveals_on_request_and_scores_one():
    task = make_task("airline", 3, 5)
    with user_server(kit.user_responder) as server:
        traj = episode(server, task, OraclePolicy())
        sent = server.requests[0]
    assert traj.termination == "answer"
    assert score(task, traj).reward == 1.0
    assert traj.metrics["user_leaks"] == 0 and traj.metrics["user_faults"] == 0
    system = sent["messages"][0]["content"]
    assert task.user_background in system and task.instruction in system
    for slot in task.private_info:
        assert str(slot.value) in system
    assert "###STOP###" in system and "one short sentence" in system
    assert [m["role"] for m in sent["messages"][1:]] == ["user", "assistant", "user"]
    assert sent["messages"][-1]["content"] == task.gold[0].text  # the agent's question, as the user role


def test_volunteered_value_is_a_leak():
    task = make_task("retail", 1, 3)
    slot = task.private_info[0]
    with user_server(lambda body: f"Sure, and by the way it's {slot.value}.") as server:
        traj = episode(server, task, Say("How are you today?"))
    assert traj.metrics["user_leaks"] == 1


@pytest.mark.parametrize("reply,reason,premature", [
    ("Great, that's everything. ###STOP###", "done", 1.0),
    ("Okay, thanks. ###TRANSFER###", "transfer", 0.0),
    ("I have no idea what that is about. ###OUT_OF_SCOPE###", "out_of_scope", 1.0),
])
def test_stop_signals_end_the_episode(reply, reason, premature):
    task = make_task("retail", 1, 3)
    with user_server(lambda body: reply) as server:
        traj = episode(server, task, Say("Anything else?", "never said"))
    assert traj.termination == "user_stop" and traj.meta["stop_reason"] == reason
    assert traj.messages[-1].content.endswith("###" + {"done": "STOP", "transfer": "TRANSFER",
                                                         "out_of_scope": "OUT_OF_SCOPE"}[reason] + "###")
    assert traj.metrics["premature_stop"] == premature
    assert traj.counters.agent_turns == 1


def test_empty_reply_is_retried_with_a_note():
    task = make_task("retail", 1, 3)
    with user_server(scripted("", "<think>hmm</think>", "It's 37519.")) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                session = LLMUser(client).session(task, 0)
                reply = await session.reply("What is your ZIP code?", [])
                return reply, session.metrics()

        reply, metrics = asyncio.run(go())
        assert reply.text == "It's 37519." and not reply.stop and reply.fault is None
        assert metrics["user_retries"] == 2
        assert RETRY_NOTE not in server.requests[0]["messages"][0]["content"]
        assert RETRY_NOTE in server.requests[1]["messages"][0]["content"]
        assert "zip_code" in reply.revealed


def test_empty_after_all_attempts_is_a_recorded_fault():
    task = make_task("retail", 1, 3)
    with user_server(lambda body: "   ") as server:
        traj = episode(server, task, Say("What is your ZIP code?", "unused"), max_attempts=3)
        assert server.request_count == 3
    last = traj.messages[-1]
    assert last.actor == "user" and last.error and last.content == ""
    # the simulator failed after its retries: the episode is unscored, not the agent's failure
    assert traj.termination == "fault" and traj.meta["stop_reason"] == "fault"
    assert traj.unscored and traj.fault.role == "user" and "no usable reply (3 attempt(s))" in traj.fault.message
    assert traj.metrics["user_faults"] == 1 and traj.metrics["premature_stop"] == 0
    assert attribute(traj) == "user_simulator"


def test_endpoint_failure_is_a_fault_not_a_crash():
    from fakeserver import Fault

    task = make_task("retail", 1, 3)
    with user_server(lambda body: Fault.server_error()) as server:
        async def go():
            async with LLMClient(kit.role_config(server, max_retries=0)) as client:
                return await LLMUser(client, max_attempts=2).session(task, 0).reply("hi", [])

        reply = asyncio.run(go())
    assert reply.fault == "llm_error" and reply.stop and reply.stop_reason == "fault"


def test_prompt_survives_template_syntax_in_the_background():
    from synthagent.sim.users.llm import system_prompt

    task = make_task("retail", 1, 3)
    task.user_background = "I write {{ledger}} and {{unknown}} and {json: 1} in my notes."
    prompt = system_prompt(task)
    assert "I write {{ledger}} and {{unknown}} and {json: 1} in my notes." in prompt


def test_agent_reasoning_is_not_shown_to_the_user():
    history = [Message(role="user", actor="user", content="help"),
               Message(role="assistant", actor="agent", content="<think>guess 37519</think>Your ZIP code?")]
    flipped = flip_roles(history, "<think>guess 37519</think>Your ZIP code?")
    assert flipped[-1] == {"role": "user", "content": "Your ZIP code?"}
