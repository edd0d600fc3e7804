"""The paper's text protocol: `<tool_call>` parsing (malformed included), rendering back, the policy wrapper."""

from __future__ import annotations

import json
from pathlib import Path

from testkit import make_task

from synthagent.integrations.synthagent_release import import_release
from synthagent.reward.scorer import score
from synthagent.sim.reference import OraclePolicy
from synthagent.sim.tool_call_text import MALFORMED_TOOL_NAME
from synthagent.integrations.text_protocol import (
    TextProtocolPolicy,
    parse_text_turn,
    render_tool_call,
    system_prompt_text,
    to_text_messages,
)
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import FunctionCall, Message, ToolCall

RELEASE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"


def say(text):
    return Message(role="assistant", actor="agent", content=text)


def test_one_call_with_reasoning():
    msg = parse_text_turn(say('I need the order first.\n<tool_call>\n{"name": "get_order", "arguments": '
                              '{"order_id": "OR-1"}}\n</tool_call>'), id_prefix="c")
    assert msg.content == "I need the order first."
    [call] = msg.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("c0", "get_order", {"order_id": "OR-1"})


def test_several_calls_string_arguments_and_parameters_alias():
    text = ('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call> and '
            '<tool_call>{"name": "b", "parameters": {"y": 2}}</tool_call>')
    msg = parse_text_turn(say(text))
    assert [(c.function.name, c.function.arguments) for c in msg.tool_calls] == [("a", '{"x": 1}'), ("b", '{"y": 2}')]
    assert msg.content == "and" and all(c.id == "" for c in msg.tool_calls)


def test_malformed_json_still_becomes_a_call_with_the_raw_text():
    raw = '{"name": "get_order", "arguments": {"order_id": "OR-1"'
    msg = parse_text_turn(say(f"<tool_call>{raw}</tool_call>"))
    [call] = msg.tool_calls
    assert call.function.name == "get_order" and call.function.arguments == raw
    assert render_tool_call(call) == f"<tool_call>\n{raw}\n</tool_call>"
    nameless = parse_text_turn(say("<tool_call>get the order please</tool_call>")).tool_calls[0]
    assert nameless.function.name == MALFORMED_TOOL_NAME and nameless.function.arguments == "get the order please"
    not_object = parse_text_turn(say('<tool_call>["get_order"]</tool_call>')).tool_calls[0]
    assert not_object.function.name == MALFORMED_TOOL_NAME


def test_unclosed_block_runs_to_the_end():
    msg = parse_text_turn(say('Checking.\n<tool_call>\n{"name": "get_order", "arguments": {"order_id": "OR-1"}}'))
    assert msg.tool_calls[0].function.name == "get_order" and msg.content == "Checking."


def test_drafts_inside_think_are_ignored_and_plain_text_untouched():
    draft = '<think>maybe <tool_call>{"name": "x", "arguments": {}}</tool_call></think>Could you give me your ZIP?'
    assert parse_text_turn(say(draft)).tool_calls is None
    answer = say("<answer>All done.</answer>")
    assert parse_text_turn(answer) is answer
    native = Message(role="assistant", actor="agent", content="<tool_call>{}</tool_call>",
                     tool_calls=[ToolCall(id="n", function=FunctionCall(name="a", arguments="{}"))])
    assert parse_text_turn(native) is native
    assert parse_text_turn(say("")).tool_calls is None


def test_render_then_parse_round_trips():
    calls = [ToolCall(id="", function=FunctionCall(name="get_order", arguments='{"order_id": "OR-1"}')),
             ToolCall(id="", function=FunctionCall(name="list_orders", arguments='{"customer_id": "C"}'))]
    msg = Message(role="assistant", actor="agent", content="Looking.", tool_calls=calls)
    [text] = to_text_messages([msg])
    again = parse_text_turn(say(text.content))
    assert again.content == "Looking." and again.tool_calls == calls


def test_text_messages_use_the_authors_prompts_and_tool_responses():
    task = make_task("retail", 1, 3)
    traj = run_episode_sync(task, OraclePolicy(), ScriptedUser(), ExecutableBackend())
    view = to_text_messages(traj.messages, task)
    assert view[0].content == system_prompt_text(task) and "<tools>" in view[0].content
    assert view[0].content.startswith("<policy>") and '"outputs"' in view[0].content
    assert view[1].content.startswith("Task Description: " + task.instruction)
    assert not any(m.role == "tool" or m.tool_calls for m in view)
    responses = [m for m in view if m.actor == "tool"]
    assert responses and all(m.role == "user" and m.content.startswith("<tool_response>") for m in responses)
    assert "<tool_call>" in " ".join(m.content or "" for m in view if m.role == "assistant")
    native = to_text_messages(traj.messages, task, tool_role="tool")
    assert any(m.role == "tool" for m in native)


def test_release_system_prompt_is_the_original_text():
    record = json.loads(RELEASE.read_text())[0]
    task = import_release(RELEASE)[0]
    assert system_prompt_text(task) == record["prompt"][0]["content"]


class TextOracle:
    """The oracle, but speaking the text protocol; it checks that it was given no native tools."""

    name = "text-oracle"

    def session(self, task, seed):
        inner = OraclePolicy().session(task, seed)

        class S:
            def act(self, messages, tools):
                assert tools == [] and messages[0].content.startswith("<policy>")
                assert all(m.role != "tool" for m in messages)
                reply = inner.act(messages, tools)
                if reply.tool_calls:
                    call = reply.tool_calls[0].function
                    body = json.dumps({"name": call.name, "arguments": json.loads(call.arguments)})
                    return say(f"Let me do that.\n<tool_call>\n{body}\n</tool_call>")
                return reply

        return S()


def test_text_protocol_policy_scores_like_the_native_oracle():
    task = make_task("airline", 3, 5)
    policy = TextProtocolPolicy(TextOracle())
    traj = run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend())
    assert policy.name == "text-oracle" and traj.termination == "answer"
    assert score(task, traj).reward == 1.0
    calls = [m for m in traj.messages if m.tool_calls]
    assert all(m.content == "Let me do that." for m in calls)
    assert len({c.id for m in calls for c in m.tool_calls}) == sum(len(m.tool_calls) for m in calls)


class Garbage:
    name = "garbage"

    def session(self, task, seed):
        replies = iter(["<tool_call>{{{ not json", '<tool_call>{"name": "get_order", "arguments": {"order_id": 1}}'
                        "</tool_call>", "<answer>gave up</answer>"])

        class S:
            def act(self, messages, tools):
                return say(next(replies))

        return S()


def test_malformed_calls_get_error_observations_never_a_crash():
    task = make_task("retail", 1, 3)
    traj = run_episode_sync(task, TextProtocolPolicy(Garbage()), ScriptedUser(), ExecutableBackend())
    errors = [m for m in traj.messages if m.role == "tool"]
    assert traj.termination == "answer" and [m.error for m in errors] == [True, True]
    assert "unknown tool 'malformed_tool_call'" in errors[0].content
    assert "expected string" in errors[1].content
