"""The local transformers policy: parsing generated turns, and the ask_user protocol inside our runtime."""

import json

import pytest

from synthagent.sim.tool_protocol import ASK_USER, to_tool_protocol
from synthagent.reward.scorer import score
from synthagent.rollout.hf_policy import parse_assistant
from synthagent.sim.reference import reference_policy
from synthagent.sim.tool_call_text import MALFORMED_TOOL_NAME
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser

from testkit import make_task


def test_parse_assistant():
    text = ('<think>\nhmm\n</think>\n\nLet me look.\n'
            '<tool_call>\n{"name": "get_order", "arguments": {"order_id": "OR-1"}}\n</tool_call>')
    content, calls = parse_assistant(text)
    assert content == "Let me look." and calls == [("get_order", '{"order_id": "OR-1"}')]
    assert parse_assistant("<answer>42</answer>") == ("<answer>42</answer>", [])
    content, calls = parse_assistant("<tool_call>\n{not json\n</tool_call>")
    assert calls == [(MALFORMED_TOOL_NAME, "{not json")]  # the runtime answers with an error observation
    two = '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n<tool_call>{"name": "b", "arguments": "{}"}</tool_call>'
    assert [c[0] for c in parse_assistant(two)[1]] == ["a", "b"]


@pytest.fixture(scope="module")
def tiny_policy():
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    from synthagent.rollout.hf_policy import HFPolicy
    from synthagent.train.tiny import TinyConfig, conversations, tiny_qwen3, train_tokenizer

    cfg = TinyConfig.quick()
    tasks = [make_task("retail", s, 1) for s in range(4)]
    tokenizer = train_tokenizer(conversations(tasks), 600)
    return HFPolicy(tiny_qwen3(tokenizer, cfg), tokenizer, protocol="ask_user", max_new_tokens=8)


def _scripted(policy, turns, monkeypatch):
    """Replace generation with the gold plan's turns in the tool protocol, rendered as a model would say them."""
    it = iter(turns)
    monkeypatch.setattr(policy, "generate", lambda prompt_ids, seed, tools=None: next(it))


def _gold_texts(task):
    gold = run_episode_sync(task, reference_policy("oracle"), ScriptedUser(), ExecutableBackend())
    texts = []
    for msg in to_tool_protocol(gold.messages, task):
        if msg["role"] != "assistant":
            continue
        if msg.get("tool_calls"):
            call = msg["tool_calls"][0]["function"]
            texts.append("<tool_call>\n" + json.dumps({"name": call["name"], "arguments": json.loads(call["arguments"])})
                         + "\n</tool_call>")
        else:
            texts.append(msg["content"])
    return texts


@pytest.mark.parametrize("level", [1, 3])
def test_ask_user_protocol_plays_our_runtime(tiny_policy, monkeypatch, level):
    task = make_task("retail", 8, level)
    _scripted(tiny_policy, _gold_texts(task), monkeypatch)
    traj = run_episode_sync(task, tiny_policy, ScriptedUser(), ExecutableBackend())
    assert score(task, traj).reward == 1.0
    assert traj.counters.user_turns > 1  # ask_user calls reached the user as plain text
    assert all(c.function.name != ASK_USER for m in traj.messages for c in (m.tool_calls or []))


def test_real_generation_runs(tiny_policy):
    task = make_task("retail", 8, 1)
    traj = run_episode_sync(task, tiny_policy, ScriptedUser(), ExecutableBackend(), max_turns=3)
    assert traj.termination in ("answer", "max_turns", "user_stop") and score(task, traj).reward == 0.0


def test_plain_text_is_the_final_answer(tiny_policy, monkeypatch):
    task = make_task("retail", 8, 1)
    _scripted(tiny_policy, ["I cannot help."], monkeypatch)
    traj = run_episode_sync(task, tiny_policy, ScriptedUser(), ExecutableBackend())
    assert traj.termination == "answer" and traj.answer == "I cannot help."
