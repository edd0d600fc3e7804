"""`synthagent rollout --policy openai:MODEL --base-url URL` against a local OpenAI-compatible server:
the same seed gives the same trajectories and the same summary, run after run."""

import hashlib
import json

from typer.testing import CliRunner

from fakeserver import FakeOpenAIServer
from synthagent.cli import app
from synthagent.rollout.metrics import summarize
from synthagent.sim.reference import EagerPolicy, OraclePolicy
from synthagent.spec.io import read_jsonl, write_jsonl
from synthagent.spec.models import Trajectory

from testkit import make_task

runner = CliRunner()


def plan_responder(tasks):
    """A deterministic agent: follows the gold plan, or (for some tasks and samples) the eager plan that
    skips asking. The choice depends only on the request, so it is the same on every run."""
    by_instruction = {t.instruction: t for t in tasks}

    def respond(body):
        messages = body["messages"]
        task = by_instruction[messages[1]["content"]]
        step = sum(m["role"] == "assistant" for m in messages)
        coin = hashlib.sha256(json.dumps(body.get("messages")[:2]).encode()).digest()[0]
        plan = (OraclePolicy() if coin % 2 else EagerPolicy()).session(task, 0).plan
        if step >= len(plan):
            return "<answer>Done.</answer>"
        action = plan[step]
        if action.kind == "call":
            return {"tool_calls": [{"name": action.tool, "arguments": action.arguments or {}}]}
        if action.kind == "answer":
            return f"<answer>{action.text}</answer>"
        return action.text or ""

    return respond


def test_openai_rollout_is_reproducible(tmp_path):
    tasks = [make_task(d, s, level) for d in ("retail",) for s in range(4) for level in (1, 2, 3)]
    task_file = tmp_path / "tasks.jsonl"
    write_jsonl(task_file, tasks)
    outputs, summaries = [], []
    with FakeOpenAIServer(plan_responder(tasks)) as server:
        for name in ("a", "b"):
            runs = tmp_path / f"{name}.jsonl"
            r = runner.invoke(app, ["rollout", "--tasks", str(task_file), "--policy", "openai:fake-agent",
                                    "--base-url", server.base_url, "--k", "2", "--seed", "7", "--concurrency", "4",
                                    "--out", str(runs)])
            assert r.exit_code == 0, r.output
            outputs.append(r.stdout)
            summaries.append(summarize(read_jsonl(runs, Trajectory)))
        assert server.request_count > 0
    assert summaries[0] == summaries[1]
    assert outputs[0] == outputs[1]
    s = summaries[0]["openai:fake-agent"]
    assert s["n"] == len(tasks) * 2 and 0.0 < s["mean_reward"] < 1.0
    a = {t.key: t.model_dump(exclude={"meta"}) for t in read_jsonl(tmp_path / "a.jsonl", Trajectory)}
    b = {t.key: t.model_dump(exclude={"meta"}) for t in read_jsonl(tmp_path / "b.jsonl", Trajectory)}
    assert a == b
