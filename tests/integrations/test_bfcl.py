"""BFCL-v4 multi-turn: gold replay passes, our verdicts agree with BFCL's checker, `eval bfcl` runs end to end."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bfcl_perturb import EMPTY_TURN_KINDS, KINDS, bfcl_verdict, empty_turns, perturb, perturb_empty_turn  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402

from synthagent.integrations.bfcl import CATEGORIES, BfclSession, check, load_entries, parse_call_string  # noqa: E402


@pytest.mark.parametrize("category", CATEGORIES)
def test_gold_replay_is_valid_and_bfcl_agrees(category):
    entries = load_entries(category)
    assert len(entries) == 200
    assert [e.id for e in entries if not check(e, e.gold_calls()).valid] == []
    for entry in entries[::10]:
        assert bfcl_verdict(entry, entry.gold_calls(), f"gold_{category}")


def test_agreement_with_bfcls_checker_on_perturbed_runs():
    compared, outcomes = 0, {True: 0, False: 0}
    for category in CATEGORIES:
        for entry in load_entries(category)[::8]:
            for kind in KINDS:
                run = perturb(entry, kind)
                ours = check(entry, run).valid
                assert ours == bfcl_verdict(entry, run, f"{kind}_{compared}"), (entry.id, kind)
                outcomes[ours] += 1
                compared += 1
    assert compared >= 200 and outcomes[True] >= 20 and outcomes[False] >= 100


@pytest.mark.parametrize("category", ["miss_func", "miss_param"])
def test_turns_with_empty_ground_truth_agree_with_bfcl_with_and_without_its_irrelevance_rule(category):
    """A call in a turn whose ground truth is empty: BFCL's runner does not judge it (only its effect on
    later turns); its defined-but-unapplied irrelevance checker fails it. Ours agrees with each."""
    outcomes: dict[tuple[bool, bool], int] = {}
    for n, entry in enumerate(load_entries(category)[::4]):
        assert empty_turns(entry)
        assert check(entry, entry.gold_calls(), irrelevance=True).valid  # gold never calls in those turns
        for kind in EMPTY_TURN_KINDS:
            try:
                run = perturb_empty_turn(entry, kind)
            except ValueError:
                continue  # no filled turn on that side of the empty one
            for irrelevance in (False, True):
                ours = check(entry, run, irrelevance=irrelevance).valid
                assert ours == bfcl_verdict(entry, run, f"irr_{category}_{kind}_{n}_{irrelevance}", irrelevance), \
                    (entry.id, kind, irrelevance)
                outcomes[(irrelevance, ours)] = outcomes.get((irrelevance, ours), 0) + 1
    # both verdicts occur under BFCL's runner; with the rule every such run fails
    assert outcomes[(False, True)] >= 20 and outcomes[(False, False)] >= 10
    assert outcomes[(True, False)] == outcomes[(False, True)] + outcomes[(False, False)] and (True, True) not in outcomes


def _gold_responder(entries):
    by_opening = {e.turns[0][0]["content"]: e for e in entries}
    assert len(by_opening) == len(entries)  # the first user message identifies the entry

    def named(entry, text):
        call = parse_call_string(text)
        method = BfclSession(entry).methods[call.name]
        names = list(inspect.signature(method).parameters)
        return {"name": call.name, "arguments": {**dict(zip(names, call.args)), **call.kwargs}}

    def respond(body):
        messages = body["messages"]
        entry = by_opening[messages[0]["content"]]
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        turn = len(users) - 1
        replied = sum(1 for m in messages[users[-1]:] if m["role"] == "assistant")
        gold = entry.ground_truth[turn]
        if replied == 0 and gold:
            return {"tool_calls": [named(entry, c) for c in gold]}
        return "Done."

    return respond


def test_cli_eval_bfcl_gold_policy_scores_one(tmp_path):
    from synthagent.cli import app

    entries = load_entries("base")[:12]
    out = tmp_path / "bfcl.json"
    with FakeOpenAIServer(_gold_responder(entries)) as server:
        result = CliRunner().invoke(app, ["eval", "bfcl", "--policy", "openai:gold", "--base-url", server.base_url,
                                          "--limit", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["summary"]["pass^1"] == 1.0 and data["unscored"] == 0 and len(data["runs"]) == 12
    assert data["benchmark"]["package"] == "bfcl-eval" and data["benchmark"]["category"] == "base"
    assert data["benchmark"]["tasks_fingerprint"] and data["benchmark"]["protocol_fingerprint"]
    assert data["scored"] == 12 and data["agent_failures"] == 0 and data["user_simulator"].startswith("none")
    assert all(v["verdicts"] == [True] and v["flips"] == 0 for v in data["per_task"].values())
    page = out.with_suffix(".html").read_text()
    assert 'id="passk-0"' in page and f'data-value="{data["summary"]["pass^1"]!r}"' in page
    assert f'data-tasks-fingerprint="{data["benchmark"]["tasks_fingerprint"]}"' in page


def test_cli_eval_bfcl_irrelevance_rule_is_named_in_the_results(tmp_path):
    from synthagent.cli import app

    entries = load_entries("miss_param")[:3]
    out = tmp_path / "bfcl.json"
    with FakeOpenAIServer(_gold_responder(entries)) as server:
        result = CliRunner().invoke(app, ["eval", "bfcl", "--category", "miss_param", "--policy", "openai:gold",
                                          "--base-url", server.base_url, "--limit", "3", "--irrelevance",
                                          "--out", str(out), "--no-html"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["protocol"] == "bfcl+irrelevance" and data["summary"]["pass^1"] == 1.0  # gold asks, never calls
    assert not out.with_suffix(".html").exists()
