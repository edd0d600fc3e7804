"""An endpoint that fails for good makes episodes unscored, never agent failures: `rollout` exits 3, the
summary counts them apart with the error, and a rerun against a healthy endpoint retries exactly them and
ends with the same runs as a run that never saw a fault."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from fakeserver import Fault, FakeOpenAIServer
from synthagent.cli import app
from synthagent.sim.reference import OraclePolicy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.io import read_jsonl, write_jsonl
from synthagent.spec.models import Trajectory
from testkit import make_task

runner = CliRunner()
TASKS = [make_task("retail", seed, level) for seed in (1, 2) for level in (1, 3)]


def oracle_responder(body):
    """Plays the gold plan of the task named by the request's first user message."""
    by_instruction = {t.instruction: t for t in TASKS}
    task = by_instruction[body["messages"][1]["content"]]
    plan = OraclePolicy().session(task, 0).plan
    step = sum(m["role"] == "assistant" for m in body["messages"])
    if step >= len(plan):
        return "<answer>Done.</answer>"
    action = plan[step]
    if action.kind == "call":
        return {"tool_calls": [{"name": action.tool, "arguments": action.arguments or {}}]}
    return f"<answer>{action.text}</answer>" if action.kind == "answer" else action.text or ""


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def rollout(tmp_path, base_url, out, *extra):
    tasks = tmp_path / "tasks.jsonl"
    if not tasks.exists():
        write_jsonl(tasks, TASKS)
    return runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "openai:agent", "--base-url", base_url,
                               "--out", str(out), "--k", "2", "--max-retries", "1", "--timeout", "0.5", *extra])


def by_key(path):
    return {t.key: t.model_dump(exclude={"meta"}) for t in read_jsonl(path, Trajectory)}


FAILURES = {
    "http_500": lambda body: Fault.http(500),
    "http_400": lambda body: Fault.http(400),
    "garbage_body": lambda body: Fault.malformed_json(),
    "empty_choices": lambda body: Fault.timeout(sleep_s=0.0),  # a 200 with "choices": []
    "timeout": lambda body: Fault.timeout(sleep_s=3.0),
}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("healthy")
    with FakeOpenAIServer(oracle_responder) as server:
        r = rollout(tmp, server.base_url, tmp / "runs.jsonl")
    assert r.exit_code == 0, r.output
    return by_key(tmp / "runs.jsonl")


@pytest.mark.parametrize("mode", [*FAILURES, "closed_port"])
def test_failing_endpoint_is_unscored_exits_3_and_a_rerun_retries_it(tmp_path, healthy, mode):
    out = tmp_path / "runs.jsonl"
    if mode == "closed_port":
        r = rollout(tmp_path, closed_port_url(), out)
    else:
        with FakeOpenAIServer(FAILURES[mode], transient_repeats=1000) as server:
            r = rollout(tmp_path, server.base_url, out)
    assert r.exit_code == 3, r.output
    runs = read_jsonl(out, Trajectory)
    assert len(runs) == len(TASKS) * 2
    assert all(t.termination == "fault" and t.fault.role == "policy" and t.result is None for t in runs)
    assert all("policy call to model 'agent'" in t.fault.message for t in runs)
    assert "8 of 8 episode(s) unscored" in r.output and "first fault: policy call" in r.output

    scored = runner.invoke(app, ["score", "--runs", str(out), "--json"])
    summary = json.loads(scored.stdout)["summary"]["openai:agent"]
    assert summary["unscored"] == 8 and summary["scored"] == 0 and summary["faults"] == {"policy": 8}

    with FakeOpenAIServer(oracle_responder) as server:  # the endpoint recovered
        again = rollout(tmp_path, server.base_url, out)
    assert again.exit_code == 0, again.output
    assert "retrying 8 unscored episode(s)" in again.output
    assert by_key(out) == healthy
    assert len(out.read_text().splitlines()) == 8  # one record per key: the faulted lines were replaced


def test_some_unscored_under_the_threshold_exit_0_and_are_shown_apart(tmp_path, healthy):
    target = TASKS[0].instruction

    def half_broken(body):  # the endpoint fails only for one task: 2 of 8 episodes
        return Fault.http(500) if body["messages"][1]["content"] == target else oracle_responder(body)

    out = tmp_path / "runs.jsonl"
    with FakeOpenAIServer(half_broken, transient_repeats=1000) as server:
        strict = rollout(tmp_path, server.base_url, out)
        assert strict.exit_code == 3  # 2/8 > 0.1
        lenient = rollout(tmp_path, server.base_url, out, "--max-unscored", "0.5")
    assert lenient.exit_code == 0, lenient.output
    assert "retrying 2 unscored episode(s)" in lenient.output
    summary = json.loads(runner.invoke(app, ["score", "--runs", str(out), "--json"]).stdout)["summary"]["openai:agent"]
    assert summary["unscored"] == 2 and summary["scored"] == 6 and summary["mean_reward"] == 1.0
    assert "failure_attribution" in summary and summary["failure_attribution"] == {}
    text = runner.invoke(app, ["score", "--runs", str(out)])
    assert "2 unscored episode(s) (policy 2)" in text.output and "injected HTTP 500" in text.output


class GarbagePolicy:
    name = "garbage"

    def session(self, task, seed):
        return self

    def act(self, messages, tools):
        return {"role": "assistant", "content": "not a Message"}


def test_a_policy_returning_garbage_is_an_agent_error_not_a_fault():
    traj = run_episode_sync(TASKS[0], GarbagePolicy(), ScriptedUser(), ExecutableBackend())
    assert traj.termination == "error" and traj.fault is None and not traj.unscored
    assert "not an assistant Message" in traj.meta["error"]


def test_retry_errors_reruns_error_episodes(tmp_path, healthy):
    out = tmp_path / "runs.jsonl"
    with FakeOpenAIServer(oracle_responder) as server:
        assert rollout(tmp_path, server.base_url, out).exit_code == 0
    lines = out.read_text().splitlines()
    first = json.loads(lines[0])
    first.update(termination="error", result=None, meta={"error": "policy failed: injected"})
    out.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    with FakeOpenAIServer(oracle_responder) as server:
        plain = rollout(tmp_path, server.base_url, out)
        assert plain.exit_code == 0 and server.request_count == 0  # an agent error is a result: kept
        forced = rollout(tmp_path, server.base_url, out, "--retry-errors")
        assert forced.exit_code == 0 and server.request_count > 0
    assert "retrying 1 episode(s) that ended in an error" in forced.output
    assert by_key(out) == healthy
