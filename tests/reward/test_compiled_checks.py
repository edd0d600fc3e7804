"""The checks stage E compiles ledger-linked items to: `no_unasked_arguments` (the anti-fabrication policy)
and `called` with grounding (a value used as the user gave it, never a lucky guess)."""

from __future__ import annotations

import json

from synthagent.reward.checks import CHECKS, facts
from synthagent.reward.replay import replay
from synthagent.spec.models import FunctionCall, FunctionDef, Message, PrivateSlot, Task, ToolCall, ToolSpec, Trajectory

TASK = Task(id="t", domain="d", instruction="Help me with my record.",
            tools=[ToolSpec(function=FunctionDef(name="get_record")), ToolSpec(function=FunctionDef(name="other"))],
            private_info=[PrivateSlot(name="record_ref", value="REF-1234", description="record reference")])
USES = {"uses": [{"tool": "get_record", "param": "record_id", "slot": "record_ref", "value": "REF-1234"}]}
CALLED = {"tool": "get_record", "args": {"record_id": "REF-1234"}, "grounded": True}


def _call(name: str, args: dict, n: int) -> list[Message]:
    call = ToolCall(id=f"c{n}", function=FunctionCall(name=name, arguments=json.dumps(args)))
    return [Message(role="assistant", actor="agent", tool_calls=[call]),
            Message(role="tool", actor="tool", tool_call_id=f"c{n}", name=name, content='{"status": "open"}')]


def _run(*parts: list[Message]) -> Trajectory:
    messages = [Message(role="system", actor="system", content="sys"),
                Message(role="user", actor="user", content=TASK.instruction)]
    for part in parts:
        messages.extend(part)
    messages.append(Message(role="assistant", actor="agent", content="<answer>done</answer>"))
    return Trajectory(task_id="t", policy="p", messages=messages, termination="answer", answer="done")


def _verdict(op: str, args: dict, trajectory: Trajectory) -> tuple[bool, str]:
    met, evidence, _ = CHECKS[op](facts(TASK, trajectory, replay(TASK, trajectory)), args)
    return met, evidence


ASK = [Message(role="assistant", actor="agent", content="Which record is it?"),
       Message(role="user", actor="user", content="It is REF-1234.")]


def test_asking_first_complies_and_calls_with_the_given_value() -> None:
    run = _run(ASK, _call("get_record", {"record_id": "REF-1234"}, 1))
    assert _verdict("no_unasked_arguments", USES, run)[0]
    assert _verdict("called", CALLED, run)[0]


def test_a_right_guess_before_the_user_spoke_is_fabrication_and_earns_no_call_credit() -> None:
    run = _run(_call("get_record", {"record_id": "REF-1234"}, 1), ASK)
    met, why = _verdict("no_unasked_arguments", USES, run)
    assert not met and "before the user gave record_ref" in why
    met, why = _verdict("called", CALLED, run)
    assert not met and "before it reached the agent" in why
    assert _verdict("called", {**CALLED, "grounded": False}, run)[0]  # the plain check still sees the call


def test_a_wrong_guess_is_fabrication_and_other_tools_are_not_watched() -> None:
    assert not _verdict("no_unasked_arguments", USES, _run(_call("get_record", {"record_id": "REF-9999"}, 1)))[0]
    assert _verdict("no_unasked_arguments", USES, _run(_call("other", {"record_id": "x"}, 1)))[0]
    assert _verdict("no_unasked_arguments", USES, _run())[0]  # doing nothing breaks no policy
