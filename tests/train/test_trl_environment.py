"""The TRL environment plays our tasks in the tool-only protocol and grades them like the runtime does.

These run without torch or TRL: the environment is plain Python. TRL calls `reset(**row)`, the tool methods
and `get_reward()`; here the test plays the part of TRL with scripted agents.
"""

import inspect
import json

import pytest

from synthagent.spec.worlds import SimulatedWorld

from synthagent.integrations.trl import ASK_USER, EnvironmentSuite, record_answers, to_tool_protocol, tool_schemas
from synthagent.integrations.trl.environment import ENDED
from synthagent.sim.tool_protocol import derived_schema, final_answer
from synthagent.reward.scorer import score
from synthagent.sim.reference import reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.worlds import domain_names

from testkit import make_task


def _env_for(suite, task):
    env = suite.factories()[suite.row(task)["environment"]]()
    env.reset(**suite.row(task))
    return env


def _tool_methods(env):
    return {n: getattr(env, n) for n, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
            if not n.startswith("_") and n not in ("reset", "get_reward")}


def _play(env, task, conversation):
    """Drive the environment the way TRL would, from a tool-protocol conversation (assistant turns only)."""
    methods = _tool_methods(env)
    for msg in conversation:
        if msg["role"] != "assistant":
            continue
        if msg.get("tool_calls"):
            for call in msg["tool_calls"]:
                args = json.loads(call["function"]["arguments"])
                methods[call["function"]["name"]](**args)
        else:
            record_answers([[msg]], [env])
    return env.get_reward()


@pytest.mark.parametrize("domain", domain_names())
@pytest.mark.parametrize("policy", ["oracle", "eager", "random", "silent"])
def test_environment_reward_equals_runtime_reward(domain, policy):
    """A runtime episode replayed through the environment's tools gets the same rubric reward."""
    for seed, level in ((3, 1), (4, 3)):
        task = make_task(domain, seed, level)
        traj = run_episode_sync(task, reference_policy(policy), ScriptedUser(), ExecutableBackend(), seed=seed)
        expected = score(task, traj).reward
        suite = EnvironmentSuite([task])
        env = _env_for(suite, task)
        got = _play(env, task, to_tool_protocol(traj.messages, task))
        assert got == expected, (policy, domain, level)
        assert env.result is not None and env.result.reward == got


def test_oracle_through_environment_scores_one_and_records_everything():
    task = make_task("retail", 7, 2)
    suite = EnvironmentSuite([task])
    env = _env_for(suite, task)
    gold = run_episode_sync(task, reference_policy("oracle"), ScriptedUser(), ExecutableBackend())
    assert _play(env, task, to_tool_protocol(gold.messages, task)) == 1.0
    traj = env.trajectory
    assert traj.termination == "answer" and traj.counters.tool_calls == gold.counters.tool_calls
    assert [m.actor for m in traj.messages] == [m.actor for m in gold.messages]


def test_tool_methods_are_the_tasks_tools_plus_ask_user():
    tasks = [make_task("retail", s, level) for s in range(3) for level in (1, 4)]
    suite = EnvironmentSuite(tasks)
    for task in tasks:
        env = _env_for(suite, task)
        assert set(_tool_methods(env)) == {t.name for t in task.tools} | {ASK_USER}
        assert [s["function"]["name"] for s in tool_schemas(task)] == sorted(_tool_methods(env))
    assert len(suite.factories()) <= len(tasks)
    assert {r["environment"] for r in suite.rows()} == set(suite.factories())


def test_tool_schemas_match_what_transformers_derives():
    get_json_schema = pytest.importorskip("transformers.utils").get_json_schema
    tasks = [make_task(d, s, level) for d in domain_names() for s in range(2) for level in (1, 5)]
    suite = EnvironmentSuite(tasks)
    for task in tasks:
        env = _env_for(suite, task)
        methods = _tool_methods(env)
        assert [get_json_schema(methods[n]) for n in sorted(methods)] == tool_schemas(task)
        for spec in task.tools:
            assert get_json_schema(methods[spec.name]) == derived_schema(spec)


def test_episode_state_is_isolated_and_reset():
    task = make_task("retail", 2, 1)
    suite = EnvironmentSuite([task])
    a, b = _env_for(suite, task), _env_for(suite, task)
    write = next(t for t in task.gold if t.kind == "call")
    getattr(a, write.tool)(**(write.arguments or {}))
    assert b.trajectory.counters.tool_calls == 0 and a.trajectory.counters.tool_calls == 1
    a.reset(**suite.row(task))
    assert a.trajectory.counters.tool_calls == 0 and len(a.trajectory.messages) == 2


def test_malformed_calls_become_error_observations():
    task = make_task("retail", 5, 1)
    suite = EnvironmentSuite([task])
    env = _env_for(suite, task)
    verify = next(t.name for t in task.tools if t.name.startswith("verify"))
    out = getattr(env, verify)(customer_id=12)
    assert out.startswith("Error:")
    assert env.trajectory.messages[-1].error


def test_user_stop_ends_the_conversation():
    task = make_task("retail", 5, 1)
    suite = EnvironmentSuite([task])
    env = _env_for(suite, task)
    replies = [env.ask_user("Tell me a joke.") for _ in range(4)]
    assert "###STOP###" in replies[-1]
    assert env.ask_user("Hello?") == ENDED
    assert env.trajectory.termination == "user_stop"
    assert env.get_reward() == 0.0


def test_final_answer_without_tags_is_the_answer():
    assert final_answer("<answer>42</answer>") == "42"
    assert final_answer("The status is shipped.") == "The status is shipped."


def test_suite_rebuilds_from_exported_rows():
    tasks = [make_task("retail", s, 1) for s in range(3)]
    rows = EnvironmentSuite(tasks).rows(embed_task=True)
    suite = EnvironmentSuite.from_rows(rows)
    assert [t.id for t in suite.tasks] == [t.id for t in tasks]
    with pytest.raises(ValueError, match="no embedded task"):
        EnvironmentSuite.from_rows([{"prompt": []}])


def test_tasks_without_world_need_simulators():
    task = make_task("retail", 1, 1)
    task.world = SimulatedWorld()
    with pytest.raises(ValueError, match="simulated by a model"):
        EnvironmentSuite([task])
