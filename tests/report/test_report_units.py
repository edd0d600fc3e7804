"""Escaping, JSON embedding and the overview's statistics."""

from __future__ import annotations

import json

import pytest

from synthagent.report.markup import esc, pretty_json, reward_color, script_json
from synthagent.report.stats import overview, mean_pass_hat_k, reward_bin

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</script>", "<!--", "\u2028\u2029", "a&b"]


@pytest.mark.parametrize("text", HOSTILE)
def test_esc_leaves_no_markup(text):
    out = esc(text)
    assert "<" not in out and ">" not in out and '"' not in out
    assert out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&#x27;", "'") \
        .replace("&amp;", "&") == text


def test_esc_none_and_numbers():
    assert esc(None) == "" and esc(3) == "3"


def test_script_json_is_safe_in_script_and_round_trips():
    value = {"k</script>": HOSTILE, "n": [1, 2.5, None, True], "u": "é ✓"}
    out = script_json(value)
    for bad in ("</", "<!--", "<", ">", "\u2028", "\u2029"):
        assert bad not in out
    assert json.loads(out) == value
    assert "é ✓" in out  # non-ASCII stays readable


def test_pretty_json():
    assert pretty_json('{"a":1}') == ('{\n  "a": 1\n}', True)
    assert pretty_json("not json") == ("not json", False)
    assert pretty_json('"just a string"') == ('"just a string"', False)
    text, _ = pretty_json("x" * 50, limit=10)
    assert text.startswith("x" * 10) and "40 more characters" in text


def test_reward_color_scale():
    assert reward_color(None) == "#f1f3f5"
    assert reward_color(0) != reward_color(1)
    assert reward_color(-3) == reward_color(0) and reward_color(7) == reward_color(1)


def test_pass_hat_k():
    assert mean_pass_hat_k([(2, 2), (2, 1), (2, 0)], 1) == pytest.approx(0.5)
    assert mean_pass_hat_k([(2, 2), (2, 1), (2, 0)], 2) == pytest.approx(1 / 3)
    assert mean_pass_hat_k([(4, 2)], 2) == pytest.approx(1 / 6)  # C(2,2)/C(4,2)
    assert mean_pass_hat_k([(1, 1)], 2) is None


def test_reward_bins():
    assert [reward_bin(x) for x in (0.0, 0.05, 0.1, 0.999, 1.0)] == [0, 0, 1, 9, 9]


def test_overview_numbers(sample):
    tasks, runs = sample
    ov = overview(tasks, runs)
    assert [p.name for p in ov.policies] == list(dict.fromkeys(r.policy for r in runs))
    for p in ov.policies:
        mine = [r for r in runs if r.policy == p.name]
        assert p.n == len(mine) == sum(p.hist)
        assert p.mean_reward == pytest.approx(sum(r.result.reward for r in mine) / len(mine))
        assert p.success_rate == pytest.approx(sum(r.result.success for r in mine) / len(mine))
        assert p.k == 2 and p.tasks == len(tasks)
        both = sum(all(r.result.success for r in mine if r.task_id == t.id) for t in tasks)
        assert p.pass_k == pytest.approx(both / len(tasks))
    cells = [c for (pol, _, _), c in ov.grid.items() if pol is None]
    assert sum(c.n for c in cells) == len(runs)
    assert "user_leak" in ov.metric_names
    assert ov.n_unscored == 0 and ov.n_runs == len(runs)


def test_overview_counts_unscored_but_does_not_average_them(sample):
    tasks, runs = sample
    first = runs[0].model_copy(update={"result": None, "sample": 9})
    ov = overview(tasks, [first, *runs])
    assert ov.n_unscored == 1
    p = next(p for p in ov.policies if p.name == first.policy)
    assert p.n == p.scored + 1
