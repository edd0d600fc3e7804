"""Episodes played through the HTTP server are the episodes `rollout` plays in process."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is part of `make test`")

from synthagent.integrations.server.client import ServeClient  # noqa: E402
from synthagent.integrations.server.drive import policy_act  # noqa: E402
from synthagent.integrations.server.launch import background, build_app  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.rollout.policies import build_backends  # noqa: E402
from synthagent.sim.reference import REFERENCE_POLICIES, reference_policy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402


@pytest.fixture(scope="module")
def served(tasks):
    sample = tasks[::7]
    with background(build_app(sample)) as url:
        yield sample, ServeClient(url)


def test_same_messages_and_rewards_as_in_process(served):
    sample, client = served
    user, tools, _ = build_backends(sample)
    rewards = {}
    for name in REFERENCE_POLICIES:
        for i, task in enumerate(sample):
            seed = 100 + i
            messages, scored = client.play(task.id, policy_act(reference_policy(name), task, seed), seed=seed)
            local = run_episode_sync(task, reference_policy(name), user, tools, seed=seed)
            expected = score(task, local)
            assert messages == [m.openai() for m in local.messages]
            assert scored.termination == local.termination
            assert scored.reward == expected.reward
            assert [(v.id, v.met) for v in scored.result.items] == [(v.id, v.met) for v in expected.items]
            rewards.setdefault(name, []).append(scored.reward)
    assert min(rewards["oracle"]) == 1.0  # the gold plan solves every task through the server too
    assert max(rewards["silent"]) == 0.0


def test_start_returns_prompt_tools_and_opening(served):
    sample, client = served
    task = sample[0]
    opened = client.start(task.id, seed=3)
    assert [m["role"] for m in opened.messages] == ["system", "user"]
    assert "<policy>" in opened.messages[0]["content"]
    assert opened.tools == task.agent_tools()
    assert opened.max_turns == 16
    client.close(opened.session_id)


def test_task_listing_pages_and_reports_world_kind(served):
    sample, client = served
    page = client.tasks(offset=1, limit=2)
    assert page.total == len(sample)
    assert [t.id for t in page.tasks] == [t.id for t in sample[1:3]]
    assert {t.world for t in page.tasks} == {"procedural"}


def test_sessions_are_isolated(served):
    sample, client = served
    task = sample[0]
    a, b = client.start(task.id, seed=1), client.start(task.id, seed=1)
    call = {"role": "assistant", "content": "What is your order number?"}
    step_a = client.step(a.session_id, call)
    assert client.state(b.session_id).turn == 0  # b untouched by a's step
    step_b = client.step(b.session_id, call)
    assert step_a.observations == step_b.observations  # same (task, seed): same world
    for s in (a, b):
        client.close(s.session_id)


def test_openapi_schema_lists_the_routes(served):
    import json
    import urllib.request

    _, client = served
    with urllib.request.urlopen(f"http://{client.host}:{client.port}/openapi.json") as resp:
        schema = json.load(resp)
    assert {"/tasks", "/sessions", "/sessions/{session_id}/step", "/sessions/{session_id}/score"} <= set(schema["paths"])
