"""Schema-constrained tool calls: the automaton accepts exactly the calls the schemas allow, the token mask
follows it across tokens that merge JSON punctuation with names, and a policy using it cannot misspell a
tool or a key even when its model is random."""

import json

import pytest

from synthagent.rollout.schema_constraint import CallAutomaton, SchemaConstraint, tool_shapes

TOOLS = [
    {"type": "function", "function": {"name": "get_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "change_delivery_address", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}, "new_address": {"type": "string"},
                                         "note": {"type": "object"}},
        "required": ["order_id", "new_address"]}}},
    {"type": "function", "function": {"name": "list_orders", "parameters": {"type": "object", "properties": {}}}},
]


def _run(text: str):
    """Feeds a turn; `<tool_call>` and `</tool_call>` are special tokens, the rest characters."""
    automaton = CallAutomaton(TOOLS)
    state = automaton.initial()
    for piece in text.replace("</tool_call>", "\0</tool_call>\0").replace("<tool_call>", "\0<tool_call>\0").split("\0"):
        if state is None:
            break
        if piece in ("<tool_call>", "</tool_call>"):
            state = automaton.feed_special(state, piece)
        else:
            state = automaton.feed_text(state, piece)
    return state


def _call(name, arguments, raw=None):
    body = raw if raw is not None else json.dumps({"name": name, "arguments": arguments})
    return f"Let me look.\n<tool_call>\n{body}\n</tool_call>"


def test_schema_valid_calls_are_accepted():
    assert tool_shapes(TOOLS)["change_delivery_address"].required == {"order_id", "new_address"}
    for text in [
        _call("get_order", {"order_id": "FD-945997"}),
        _call("change_delivery_address", {"new_address": "192 Station Drive, \"B\"", "order_id": "FD-1"}),
        _call("change_delivery_address", {"order_id": "FD-1", "new_address": "x", "note": {"a": [1, {"b": "}"}]}}),
        _call("list_orders", {}),
        _call("get_order", None, raw='{"name":"get_order","arguments":{ "order_id" : 12 }}'),
        "<answer>done</answer>",
    ]:
        assert _run(text) == ("out",), text


def test_schema_breaking_calls_are_rejected():
    for text in [
        _call("get_orders", {"order_id": "FD-1"}),            # not a tool shown
        _call("get_order", {"orders_id": "FD-1"}),            # not one of its keys
        _call("get_order", {"order_id": "FD-1", "order_id2": "x"}),
        _call("change_delivery_address", {"order_id": "FD-1"}),   # a required key missing
        _call("get_order", None, raw='{"name": "get_order", "arguments": {"order_id": "1", "order_id": "2"}}'),
    ]:
        assert _run(text) is None, text
    # A partial name is alive only while some tool starts with it.
    automaton = CallAutomaton(TOOLS)
    state = automaton.feed_text(automaton.feed_special(("out",), "<tool_call>"), '\n{"name": "get_')
    assert state == ("name", "get_")
    assert automaton.feed_text(state, "order") == ("name", "get_order")
    assert automaton.feed_text(state, "orders") is None


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    from synthagent.train.tiny import conversations, train_tokenizer

    from testkit import make_task

    return train_tokenizer(conversations([make_task("retail", s, 1) for s in range(4)]), 600)


def test_the_mask_follows_tokens_that_merge_punctuation_and_names(tokenizer):
    constraint = SchemaConstraint(tokenizer, TOOLS)
    prefix = tokenizer.encode('<tool_call>\n{"name": "get_order", "arguments": {"')
    state = constraint.state_of(prefix)
    assert state == ("key", "get_order", frozenset(), "")
    allowed = {constraint.pieces[i][1] for i in constraint.allowed(state)}
    assert "o" in allowed and "x" not in allowed
    # Every allowed token keeps the call alive; every other one breaks it.
    for index, (_, text) in enumerate(constraint.pieces):
        if text:
            assert (constraint.advance(state, index) is not None) == (index in constraint.allowed(state))
    # Whole-token text gives the same state as characters.
    ids = tokenizer.encode(_call("get_order", {"order_id": "OR-123456"}))
    assert constraint.state_of(ids) == ("out",)
    assert constraint.allowed(("out",)) is None


def test_a_random_model_under_the_constraint_names_only_shown_tools(tokenizer):
    import torch

    from synthagent.rollout.hf_policy import HFPolicy
    from synthagent.rollout.schema_constraint import logits_processor
    from synthagent.train.tiny import TinyConfig, tiny_qwen3

    torch.manual_seed(0)
    model = tiny_qwen3(tokenizer, TinyConfig.quick()).eval()
    constrained = HFPolicy(model, tokenizer, protocol="ask_user", max_new_tokens=40, temperature=1.0,
                           constrain_calls=True)
    free = HFPolicy(model, tokenizer, protocol="ask_user", max_new_tokens=40, temperature=1.0)
    start = tokenizer.encode('<|im_start|>assistant\n<tool_call>\n{"name": "')
    names = {"constrained": [], "free": []}
    for seed in range(12):
        for label, policy in (("constrained", constrained), ("free", free)):
            text = policy.generate(start, seed, TOOLS)
            names[label].append(text.split('"', 1)[0])
    shown = {"get_order", "change_delivery_address", "list_orders"}
    # With the constraint every name that was finished is a shown tool's, and most were finished; a random
    # model on its own writes none of them.
    finished = [n for n in names["constrained"] if n in shown]
    assert all(any(tool.startswith(n) for tool in shown) for n in names["constrained"]), names["constrained"]
    assert len(finished) >= 6, names["constrained"]
    assert not any(n in shown for n in names["free"]), names["free"]
    # The processor sees the turn from `turn_start`: text before it is not held to the schema.
    processor = logits_processor(constrained.constraint(TOOLS), len(start))
    scores = torch.zeros(1, len(tokenizer))
    masked = processor(torch.tensor([start]), scores.clone())
    assert torch.isinf(masked).sum() == 0  # nothing generated yet: the state is "out", nothing masked


def test_rollout_s_hf_policy_takes_the_flags_and_says_its_calls_were_constrained(tokenizer, tmp_path):
    from synthagent.rollout.openai_policy import PolicyOptions
    from synthagent.rollout.policies import build_policy
    from synthagent.train.tiny import TinyConfig, tiny_qwen3

    tiny_qwen3(tokenizer, TinyConfig.quick()).save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    spec = f"hf:{tmp_path / 'm'}"
    held = build_policy(spec, options=PolicyOptions(constrained_calls=True, max_tokens=40))
    assert held.constrain_calls and held.max_new_tokens == 40 and held.name == f"{spec}#constrained"
    free = build_policy(spec)
    assert not free.constrain_calls and free.max_new_tokens == 256 and free.name == spec
