import asyncio
import json

from synthagent.rollout.metrics import pass_at_k, pass_hat_k, summarize
from synthagent.sim.reference import reference_policy
from synthagent.rollout.runner import RolloutConfig, rollout
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Trajectory

from testkit import make_task


def _roll(tasks, out, name="oracle", k=2, seed=0):
    return asyncio.run(rollout(tasks, reference_policy(name), ScriptedUser(), ExecutableBackend(), out,
                               RolloutConfig(k=k, seed=seed)))


def test_rollout_scores_and_resumes_without_duplicates(tmp_path):
    tasks = [make_task("retail", s, 3) for s in range(4)]
    out = tmp_path / "runs.jsonl"
    assert _roll(tasks, out, "random") == 8
    lines = out.read_text().splitlines()
    # simulate a crash: keep 5 complete records and half of the sixth
    out.write_text("\n".join(lines[:5]) + "\n" + lines[5][: len(lines[5]) // 2])
    assert _roll(tasks, out, "random") == 3
    runs = read_jsonl(out, Trajectory)
    assert len(runs) == 8 and len({r.key for r in runs}) == 8
    assert all(r.result is not None for r in runs)
    assert _roll(tasks, out, "random") == 0


def test_same_seed_same_summary(tmp_path):
    tasks = [make_task("retail", s, 2) for s in range(3)]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _roll(tasks, a, "random", k=3, seed=5)
    _roll(tasks, b, "random", k=3, seed=5)
    assert json.dumps(summarize(read_jsonl(a, Trajectory))) == json.dumps(summarize(read_jsonl(b, Trajectory)))


def test_pass_metrics():
    assert pass_at_k(4, 1, 1) == 0.25 and pass_hat_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 2, 2) == 1 - 1 / 6 and pass_hat_k(4, 2, 2) == 1 / 6
    assert pass_hat_k(4, 4, 4) == 1.0 and pass_at_k(4, 0, 4) == 0.0


def test_summary_slices(tmp_path):
    tasks = [make_task("retail", s, 1 + s % 2) for s in range(4)]
    out = tmp_path / "r.jsonl"
    _roll(tasks, out, "oracle", k=2)
    s = summarize(read_jsonl(out, Trajectory))["oracle"]
    assert s["mean_reward"] == 1.0 and s["pass^2"] == 1.0
    assert set(s["by_difficulty"]) == {"1", "2"} and "retail" in s["by_domain"]


def test_policy_specs_are_checked():
    import pytest

    from synthagent.rollout.policies import build_policy

    with pytest.raises(ValueError, match="hf:PATH"):
        build_policy("hf:")
    with pytest.raises(ValueError, match="--base-url"):
        build_policy("openai:some-model")
    with pytest.raises(KeyError, match="unknown policy"):
        build_policy("genius")
    assert build_policy("oracle").name == "oracle"
    from synthagent.rollout.openai_policy import PolicyOptions

    with pytest.raises(ValueError, match="hf:PATH"):  # a served or reference policy is not constrained here
        build_policy("oracle", options=PolicyOptions(constrained_calls=True))
