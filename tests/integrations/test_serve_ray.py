"""Server replicas on a real (local, private) Ray cluster: each replica serves the same episodes and rewards
as in process, and an episode whose replica is killed mid-episode is finished on a restarted replica by
starting it again with the same (task, seed) and replaying the messages: same messages, same reward.
Skipped, with the reason shown, without Ray or the serve extra."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is part of `make test`")
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

from synthagent.integrations.server.client import ServeClient  # noqa: E402
from synthagent.integrations.server.drive import policy_act  # noqa: E402
from synthagent.integrations.server.ray_replicas import start_replicas  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.rollout.policies import build_backends  # noqa: E402
from synthagent.sim.reference import reference_policy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402
from synthagent.spec.io import write_jsonl  # noqa: E402

TOKEN = "replica-test-token"  # the replicas bind the node's address, which need not be loopback


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 * 1024**2)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_replicas_serve_the_in_process_episodes_and_survive_a_killed_replica(tmp_path: Path, tasks: list,
                                                                             local_ray: Any) -> None:
    sample = tasks[::9]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, sample)
    replicas = start_replicas(path, 2, token=TOKEN, num_cpus=1)
    try:
        urls = replicas.urls()
        assert len(urls) == len(set(urls)) == 2
        user, tools, _ = build_backends(sample)
        for i, task in enumerate(sample):
            seed = 50 + i
            url = replicas.pick(task.id, seed, urls)
            messages, scored = ServeClient(url, token=TOKEN).play(
                task.id, policy_act(reference_policy("oracle"), task, seed), seed=seed)
            local = run_episode_sync(task, reference_policy("oracle"), user, tools, seed=seed)
            assert messages == [m.openai() for m in local.messages]
            assert scored.reward == score(task, local).reward == 1.0

        # an episode part-way through on replica 0 when its process dies (as with its node)
        task, seed = sample[0], 7
        client = ServeClient(urls[0], token=TOKEN, timeout=10)
        act = policy_act(reference_policy("oracle"), task, seed)
        opened = client.start(task.id, seed)
        messages = list(opened.messages)
        reply = act(messages, opened.tools)
        messages += [reply, *client.step(opened.session_id, reply, 0).observations]
        os.kill(_actor_pid(replicas.actors[0]), signal.SIGKILL)
        with pytest.raises(OSError):  # the replica is gone: connection refused or reset, never a silent answer
            client.step(opened.session_id, act(messages, opened.tools), 1)

        after = replicas.urls()  # Ray restarted the actor (max_restarts): a new server, a new URL
        assert len(after) == 2 and urls[0] not in after and urls[1] in after
        again = ServeClient(replicas.pick(task.id, seed, after), token=TOKEN)
        replay = policy_act(reference_policy("oracle"), task, seed)
        resumed = again.start(task.id, seed)
        sent = [m for m in messages if m["role"] == "assistant"]
        history = list(resumed.messages)
        for turn, message in enumerate(sent):  # replay what was sent before the loss
            assert replay(history, resumed.tools) == message
            history += [message, *again.step(resumed.session_id, message, turn).observations]
        assert history == messages
        turn, done = len(sent), False
        while not done:
            message = replay(history, resumed.tools)
            out = again.step(resumed.session_id, message, turn)
            history += [message, *out.observations]
            turn, done = turn + 1, out.done
        local = run_episode_sync(task, reference_policy("oracle"), user, tools, seed=seed)
        assert history == [m.openai() for m in local.messages]
        assert again.score(resumed.session_id).reward == score(task, local).reward
    finally:
        replicas.close()


def _actor_pid(actor: Any) -> int:
    return ray.get(actor.__ray_call__.remote(lambda self: os.getpid()))
