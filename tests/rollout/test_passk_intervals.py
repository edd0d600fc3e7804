"""pass^1…pass^k with 95% bootstrap intervals over tasks, verdict flips, unscored trials apart: expectations
computed by hand."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.rollout.metrics import bootstrap_interval, per_task_outcomes, summarize, verdict_flips
from synthagent.spec.io import write_jsonl
from synthagent.spec.models import Fault, RubricResult, Trajectory


def run(task: str, sample: int, success: bool | None) -> Trajectory:
    """A trial; success None is an unscored one (the user simulator failed)."""
    if success is None:
        return Trajectory(task_id=task, policy="p", sample=sample, messages=[], termination="fault",
                          fault=Fault(role="user", message="user simulator down"))
    return Trajectory(task_id=task, policy="p", sample=sample, messages=[], termination="answer",
                      result=RubricResult(task_id=task, items=[], gate=1.0, subgoal_fraction=None,
                                          interaction_fraction=None, reward=float(success), success=success))


def test_verdict_flips_by_hand():
    assert verdict_flips([True, False, True, True]) == 2
    assert verdict_flips([True] * 4) == 0
    assert verdict_flips([False, True]) == 1


def test_bootstrap_interval_by_hand():
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)  # no spread, whatever is resampled
    # two tasks, 0 and 1: a resample's mean is 0, ½ or 1 with chance ¼, ½, ¼, so over 1,000 seeded
    # resamples the 2.5% and 97.5% nearest ranks are 0 and 1
    assert bootstrap_interval([0.0, 1.0]) == (0.0, 1.0)
    assert bootstrap_interval([0.0, 1.0], seed=7) == bootstrap_interval([0.0, 1.0], seed=7)  # seeded


def test_summary_pass_hat_k_intervals_flips_and_unscored():
    # task a: T F T T (3 of 4); task b: T T T T; task c: F F F F plus a 5th trial that is unscored
    verdicts = {"a": [True, False, True, True], "b": [True] * 4, "c": [False] * 4}
    runs = [run(t, i, v) for t, vs in verdicts.items() for i, v in enumerate(vs)] + [run("c", 4, None)]
    s = summarize(runs)["p"]
    assert (s["n"], s["scored"], s["unscored"], s["faults"]) == (13, 12, 1, {"user": 1})
    # pass^k = mean over tasks of C(c,k)/C(4,k): a gives 3/4, 3/6, 1/4, 0/1; b gives 1; c gives 0
    assert s["pass^1"] == round((3 / 4 + 1) / 3, 4)
    assert s["pass^2"] == round((3 / 6 + 1) / 3, 4)
    assert s["pass^3"] == round((1 / 4 + 1) / 3, 4)
    assert s["pass^4"] == round(1 / 3, 4)
    assert list(s["interval95"]) == ["pass^1", "pass^2", "pass^3", "pass^4"]
    for k, (lo, hi) in s["interval95"].items():
        assert 0.0 <= lo <= s[k] <= hi <= 1.0
    # with 3 tasks the extreme resamples (all b: 1; all c: 0) each have chance 1/27 > 2.5%
    assert s["interval95"]["pass^4"] == [0.0, 1.0]
    assert s["verdict_flips"] == {"tasks_flipping": 1, "flips": 2, "per_task": {"a": 2}}
    # the unscored trial is no agent failure: failures are the 1 of a and 4 of c
    assert s["failure_attribution"] == {"agent": 5}


def test_score_shows_intervals_and_flips(tmp_path):
    runs = [run("a", i, v) for i, v in enumerate([True, False, True, True])] + \
        [run("b", i, True) for i in range(4)] + [run("b", 4, None)]
    write_jsonl(tmp_path / "runs.jsonl", runs)
    shown = CliRunner().invoke(app, ["score", "--runs", str(tmp_path / "runs.jsonl")])
    assert shown.exit_code == 0, shown.output
    # pass^1 = (3/4 + 1)/2 = 0.875; pass^4 = (0 + 1)/2 = 0.5
    assert "pass^1 0.875 [" in shown.output and "pass^4 0.500 [" in shown.output
    assert "1 task(s) flip verdict across trials (2 flips); 1 unscored trial(s) not counted" in shown.output
    as_json = CliRunner().invoke(app, ["score", "--runs", str(tmp_path / "runs.jsonl"), "--json"])
    summary = json.loads(as_json.stdout)["summary"]["p"]
    assert summary["pass^1"] == 0.875 and summary["interval95"]["pass^1"][0] <= 0.875
    assert summary["verdict_flips"]["per_task"] == {"a": 2} and summary["unscored"] == 1


def test_per_task_outcomes_by_hand():
    trials = [run("a", 2, True), run("a", 0, True), run("a", 1, False), run("b", 0, None), run("b", 1, True),
              run("b", 2, True)]
    out = per_task_outcomes((t.task_id.upper(), t, t.termination) for t in trials)
    assert out == {
        "A": {"verdicts": [True, False, True], "rewards": [1.0, 0.0, 1.0], "unscored": 0,
              "terminations": ["answer"] * 3, "flips": 2},
        "B": {"verdicts": [None, True, True], "rewards": [1.0, 1.0], "unscored": 1,
              "terminations": ["fault", "answer", "answer"], "flips": 0},
    }
    assert summarize(trials)["p"]["verdict_flips"]["flips"] == sum(v["flips"] for v in out.values())
