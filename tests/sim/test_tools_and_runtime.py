import json

from synthagent.sim.reference import OraclePolicy
from synthagent.sim.runtime import extract_answer, run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import FunctionCall, Message, ToolCall

from testkit import make_task


def _session(task):
    return ExecutableBackend().session(task)


def _get_tool(task):
    return next(t for t in task.tools if t.name.startswith("get_"))


def test_unknown_tool_is_an_error_observation():
    task = make_task()
    res = _session(task).call("launch_rockets", "{}")
    assert res.error and "unknown tool" in res.content


def test_non_json_arguments():
    task = make_task()
    res = _session(task).call(_get_tool(task).name, "{order_id: ")
    assert res.error and "not valid JSON" in res.content


def test_wrong_types_and_missing_args():
    task = make_task()
    tool = _get_tool(task)
    key = next(iter(tool.function.parameters["properties"]))
    res = _session(task).call(tool.name, json.dumps({key: 12345}))
    assert res.error and "expected string" in res.content
    res = _session(task).call(tool.name, "{}")
    assert res.error and "missing required argument" in res.content
    res = _session(task).call(tool.name, json.dumps({key: "x", "extra": 1}))
    assert res.error and "unexpected argument" in res.content


def test_megabyte_argument_string():
    task = make_task()
    tool = _get_tool(task)
    key = next(iter(tool.function.parameters["properties"]))
    res = _session(task).call(tool.name, json.dumps({key: "A" * 1_000_000}))
    assert res.error and "exceed" in res.content


def test_sessions_do_not_share_state():
    task = make_task("retail", 3, 4)
    first = _session(task)
    write = next(a for a in task.gold if a.kind == "call" and task.tool(a.tool).kind == "write")
    assert not first.call(write.tool, json.dumps(write.arguments)).error
    assert first.db != task.world.db
    assert _session(task).db == task.world.db


class _Scripted:
    """A policy that plays fixed assistant messages (and then answers)."""

    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)

    def session(self, task, seed):
        return self

    def act(self, messages, tools):
        return self.replies.pop(0) if self.replies else Message(role="assistant", actor="agent",
                                                                  content="<answer>ok</answer>")


def _call(name, arguments):
    return Message(role="assistant", actor="agent",
                   tool_calls=[ToolCall(id="c1", function=FunctionCall(name=name, arguments=arguments))])


def test_malformed_calls_never_crash_an_episode():
    task = make_task()
    policy = _Scripted([_call("nope", "{}"), _call(_get_tool(task).name, "not json"),
                        _call(_get_tool(task).name, '{"x": ' + '"A"' * 10 + "}")])
    traj = run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend())
    assert traj.termination == "answer"
    assert traj.counters.tool_calls == 3 and traj.counters.tool_errors == 3
    assert [m.error for m in traj.messages if m.actor == "tool"] == [True, True, True]


def test_policy_exception_ends_with_error_termination():
    class Broken:
        name = "broken"

        def session(self, task, seed):
            return self

        def act(self, messages, tools):
            raise RuntimeError("model server down")

    traj = run_episode_sync(make_task(), Broken(), ScriptedUser(), ExecutableBackend())
    assert traj.termination == "error" and "model server down" in traj.meta["error"]


def test_turn_limit():
    chatty = _Scripted([Message(role="assistant", actor="agent", content=f"Let me check {i}.") for i in range(2)])
    traj = run_episode_sync(make_task(), chatty, ScriptedUser(patience=99), ExecutableBackend(), max_turns=2)
    assert traj.termination == "max_turns" and traj.counters.agent_turns == 2


def test_scripted_user_reveals_one_asked_slot_per_turn_and_never_volunteers():
    task = make_task("retail", 1, 5)
    session = ScriptedUser().session(task, 0)
    assert session.opening() == task.instruction
    everything = " ".join(k for slot in task.private_info for k in slot.keywords)
    reply = session.reply(f"Please give me your {everything}", [])
    assert len(reply.revealed) == 1
    slot = task.slot(reply.revealed[0])
    assert str(slot.value) in reply.text
    others = [s for s in task.private_info if s.name != slot.name]
    assert not any(str(s.value) in reply.text for s in others)
    vague = session.reply("How is the weather?", [])
    assert vague.revealed == [] and not any(str(s.value) in vague.text for s in task.private_info)


def test_scripted_user_confirms_only_matching_writes():
    task = make_task("retail", 3, 4)
    write = next(a for a in task.gold if a.kind == "confirm")
    session = ScriptedUser().session(task, 0)
    assert session.reply("Shall I proceed with cancelling everything?", []).text.startswith("No")
    assert session.reply(write.text, []).text.startswith("Yes")


def test_scripted_user_repeats_a_revealed_detail_and_corrects_a_wrong_proposal_with_what_it_already_said():
    task = make_task("retail", 1, 5)  # update the address of a stated order, then cancel a hidden one
    address = task.slot("new_address").value
    session = ScriptedUser(patience=10).session(task, 0)
    first = session.reply("What is the new shipping address?", [])
    assert first.revealed == ["new_address"] and address in first.text
    again = session.reply("Sorry, what is the new shipping address?", [])
    assert again.revealed == [] and address in again.text
    # the stated order id is right, the revealed address miscopied: only the address is restated
    wrong_address = session.reply("I will call update_shipping_address with order_id=OR-956728, "
                                  "new_address=999 Elm Court, Fairview. Shall I proceed?", [])
    assert wrong_address.text.startswith("No") and address in wrong_address.text and "OR-956728" not in wrong_address.text
    # a miscopied stated value (the order id from the request) is restated too
    wrong_order = session.reply(f"I will call update_shipping_address with order_id=OR-956000, new_address={address}. "
                                "Shall I proceed?", [])
    assert wrong_order.text.startswith("No") and "OR-956728" in wrong_order.text
    assert session.reply(f"I will call update_shipping_address with order_id=OR-956728, new_address={address}. "
                         "Shall I proceed?", []).text.startswith("Yes")
    # the second order's id is still hidden: a wrong proposal is refused without it
    assert session.reply("What is the reason for cancelling?", []).revealed == ["reason"]
    hidden = task.slot("order_id_2").value
    refusal = session.reply("I will call cancel_order with order_id=OR-999999, reason=no longer needed. Shall I proceed?", [])
    assert refusal.text == "No, that is not what I asked for." and hidden not in refusal.text


def test_scripted_user_repeats_count_toward_patience():
    task = make_task("retail", 1, 5)
    session = ScriptedUser(patience=3).session(task, 0)
    assert session.reply("What is the new shipping address?", []).revealed == ["new_address"]
    replies = [session.reply("What is the new shipping address?", []) for _ in range(3)]
    assert [r.stop for r in replies] == [False, False, True] and replies[-1].stop_reason == "patience"


def test_scripted_user_hangs_up_after_patience():
    traj = run_episode_sync(make_task(), _Scripted([Message(role="assistant", actor="agent", content="Hmm.")] * 5),
                            ScriptedUser(patience=3), ExecutableBackend())
    assert traj.termination == "user_stop" and traj.meta["stop_reason"] == "patience"
    assert traj.metrics["premature_stop"] == 0.0


def test_oracle_episode_has_no_leaks():
    traj = run_episode_sync(make_task("retail", 1, 5), OraclePolicy(), ScriptedUser(), ExecutableBackend())
    assert traj.termination == "answer"
    assert traj.metrics["user_leaks"] == 0.0


def test_extract_answer():
    assert extract_answer("thinking <answer> done </answer>") == "done"
    assert extract_answer("no tags") is None
    assert extract_answer("<answer>unterminated") == "unterminated"


def test_extract_answer_unclosed_and_empty_tags():
    from synthagent.sim.runtime import UNCLOSED_LIMIT

    # An echoed empty pair is not an answer; a real answer after it is.
    assert extract_answer("I will finish inside <answer></answer> when done. Which order?") is None
    assert extract_answer("<ANSWER>  </answer>") is None
    assert extract_answer("Format: <answer></answer>. <answer>Refund issued.</answer>") == "Refund issued."
    # The first non-blank closed pair wins; what follows it is not the answer.
    assert extract_answer("<answer>A</answer> later <answer>B</answer>") == "A"
    # An unclosed tag stops at a blank line or the next tag, and at UNCLOSED_LIMIT characters.
    assert extract_answer("<answer>Booking BK-1 is cancelled.\n\nLet me think about what else the user wants…") \
        == "Booking BK-1 is cancelled."
    assert extract_answer("<answer>Done <tool_call>{}</tool_call> more") == "Done"
    assert extract_answer("<answer>first line\nsecond line") == "first line\nsecond line"
    assert len(extract_answer("<answer>" + "z" * (3 * UNCLOSED_LIMIT))) == UNCLOSED_LIMIT
    assert extract_answer("<answer>\n\nreasoning after a blank line") is None
    # An unclosed tag after a blank closed pair still counts: the empty pair was the echo.
    assert extract_answer("<answer></answer> then <answer>Refund issued") == "Refund issued"


def test_an_echoed_empty_answer_does_not_end_the_episode():
    """The echo goes to the user as a normal turn; the episode ends on the real answer that follows."""
    echo = Message(role="assistant", actor="agent", content="I will reply inside <answer></answer>. Your order id?")
    final = Message(role="assistant", actor="agent", content="<answer>All done.</answer>")
    traj = run_episode_sync(make_task(), _Scripted([echo, final]), ScriptedUser(patience=99), ExecutableBackend())
    assert traj.termination == "answer" and traj.answer == "All done."
    assert traj.counters.agent_turns == 2 and traj.messages[3].actor == "user"
