"""verifiers' own rollout code plays synthagent episodes through `synthagent serve`: same episodes, same rewards.

verifiers lives in its own virtual environment (`make .venv-verifiers`; it pins openai<3 and ~40 packages the
test environment has at other versions), so its rollout runs in a subprocess with that environment's python:
`Env.serving()` and `Env.run_slot()` over the `synthagent-verifiers` taskset, with each model call going
through verifiers' interception server to a local OpenAI-compatible server whose replies are the reference
policies acting on the conversation verifiers forwarded. The same policies play the same (task, seed) in
process; the rewards, per-item verdicts and conversations must agree.

Missing environment: the test fails and says how to build it; `SYNTHAGENT_SKIP_VERIFIERS=1` is the explicit
opt-out (reported as a skip).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is part of `make test`")

from fakeserver import FakeOpenAIServer  # noqa: E402
from synthagent.integrations.server.client import ServeClient  # noqa: E402
from synthagent.integrations.server.drive import from_wire  # noqa: E402
from synthagent.integrations.server.launch import background, build_app  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.rollout.policies import build_backends  # noqa: E402
from synthagent.sim.reference import reference_policy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("oracle", "eager", "random")
SEED = 7  # one seed per run: a scripted user opens every seed of a task alike, so the opening names the task only


def verifiers_python() -> str:
    python = os.environ.get("SYNTHAGENT_VERIFIERS_PYTHON") or str(ROOT / ".venv-verifiers" / "bin" / "python")
    if Path(python).exists():
        return python
    if os.environ.get("SYNTHAGENT_SKIP_VERIFIERS") == "1":
        pytest.skip("SYNTHAGENT_SKIP_VERIFIERS=1: the verifiers environment was opted out")
    pytest.fail(f"{python} is missing: build verifiers' environment with `make .venv-verifiers` (part of `make test`), "
                "or set SYNTHAGENT_SKIP_VERIFIERS=1 to opt out of this test")


class PolicyResponder:
    """An OpenAI-compatible model that is a reference policy: it finds the episode by its opening messages
    (system prompt and the user's first message) and lets that episode's policy session act on the
    conversation it was sent."""

    def __init__(self, openings: dict[tuple[str, str], tuple]):
        self.openings, self.sessions = openings, {}

    def __call__(self, body):
        messages = body["messages"]
        key = (messages[0]["content"], messages[1]["content"])
        task, seed = self.openings[key]
        session = self.sessions.setdefault((body["model"], key), reference_policy(body["model"]).session(task, seed))
        return session.act([from_wire(m) for m in messages], body.get("tools") or []).openai()


def test_verifiers_rollout_scores_the_same_episodes_as_in_process(tasks):
    python = verifiers_python()
    sample = tasks[::12]
    user, tools, _ = build_backends(sample)
    local, openings = {}, {}
    for name in POLICIES:
        for task in sample:
            episode = run_episode_sync(task, reference_policy(name), user, tools, seed=SEED)
            local[(name, task.id, SEED)] = (episode, score(task, episode))
            openings[(episode.messages[0].content, episode.messages[1].content)] = (task, SEED)
    assert len(openings) == len(sample)  # each opening names one task

    compared = []
    with background(build_app(sample)) as url, FakeOpenAIServer(PolicyResponder(openings)) as model:
        for name in POLICIES:
            done = subprocess.run(
                [python, "-m", "synthagent.integrations.verifiers_env", "--url", url, "--model", name,
                 "--model-url", model.base_url, "--api-key-var", "SYNTHAGENT_TEST_KEY",
                 "--seeds", str(SEED), "--keep-sessions"],
                capture_output=True, text=True, timeout=300, cwd=ROOT,
                env={**os.environ, "SYNTHAGENT_TEST_KEY": "local", "PYTHONPATH": str(ROOT / "src")})
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
            rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
            assert sorted((r["task_id"], r["seed"]) for r in rows) == sorted((t.id, SEED) for t in sample)
            client = ServeClient(url)
            for row in rows:
                episode, expected = local[(name, row["task_id"], row["seed"])]
                assert row["ok"] and not row["errors"], row
                assert row["reward"] == expected.reward, (name, row)
                assert row["items"] == {v.id: v.met for v in expected.items}, (name, row)
                assert row["termination"] == episode.termination, (name, row)
                served = client.state(row["session_id"]).messages  # the conversation the world saw
                assert served == [m.openai() for m in episode.messages], (name, row["task_id"])
                client.close(row["session_id"])
                compared.append((name, row["reward"]))
    rewards = {name: [r for n, r in compared if n == name] for name in POLICIES}
    assert len(compared) == len(POLICIES) * len(sample)
    assert min(rewards["oracle"]) == 1.0 and max(rewards["eager"]) < 1.0  # the policies differ: not a constant
    means = ", ".join(f"{name} {sum(r) / len(r):.3f}" for name, r in rewards.items())
    print(f"verifiers vs in process: {len(compared)}/{len(compared)} episodes, identical rewards; mean reward {means}",
          file=sys.stderr)
