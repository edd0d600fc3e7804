"""The optional reasoning mix: reasoning-gym problems as Tasks, exact-answer rewards, a Python sandbox."""

import json

import pytest

pytest.importorskip("reasoning_gym", reason="the reasoning mix is an optional extra (synthagent[reasoning])")

from synthagent.integrations.reasoning_gym import (  # noqa: E402
    PythonBackend,
    reasoning_tasks,
    run_python,
)
from synthagent.integrations.release_verl import tasks_to_verl_rows  # noqa: E402
from synthagent.integrations.trl import EnvironmentSuite, record_answers  # noqa: E402
from synthagent.integrations.verl import compute_score  # noqa: E402
from synthagent.integrations.verl.episode import trajectory_field  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.sim.reference import reference_policy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402
from synthagent.sim.kinds import RoutedTools, RoutedUsers  # noqa: E402

from testkit import make_task  # noqa: E402


def test_exact_answer_rewards_in_runtime_and_verl():
    tasks = reasoning_tasks(["basic_arithmetic", "chain_sum"], 3, seed=1)
    assert len(tasks) == 6 and len({t.id for t in tasks}) == 6
    assert reasoning_tasks(["basic_arithmetic"], 3, seed=1)[0].id == tasks[0].id  # regenerated identically
    for task in tasks:
        for policy, expected in (("oracle", 1.0), ("silent", 0.0)):
            traj = run_episode_sync(task, reference_policy(policy), RoutedUsers(), RoutedTools())
            assert score(task, traj).reward == expected  # the answer item is a check op: no judge
            extra = tasks_to_verl_rows([task], embed_task=True)[0]["extra_info"] | trajectory_field(traj)
            assert compute_score("synthagent", "", None, extra)["score"] == expected


def test_python_sandbox():
    assert run_python("print(6 * 7)") == ("42", False)
    out, error = run_python("raise SystemExit(3)")
    assert error
    out, error = run_python("import os; print(sorted(os.environ))")
    assert not error and "HOME" not in out
    session = PythonBackend().session(reasoning_tasks(["basic_arithmetic"], 1)[0])
    assert session.call("python", json.dumps({"code": "print(1+1)"})).content == "2"
    assert session.call("python", "{").error and session.call("bash", "{}").error


def test_legacy_reasoning_tasks_still_load_as_the_reasoning_kind():
    task = reasoning_tasks(["basic_arithmetic"], 1, seed=1)[0]
    old = json.loads(task.model_dump_json())
    world = old.pop("world")
    old["metadata"] = {"reasoning_gym": {k: v for k, v in world.items() if k != "kind"}}
    from synthagent.spec.models import Task

    again = Task.model_validate(old)
    assert again.world == task.world


def test_mixed_suite_trains_on_both_kinds():
    tasks = reasoning_tasks(["basic_arithmetic"], 2, seed=3) + [make_task("retail", 1, 1)]
    suite = EnvironmentSuite(tasks)  # each task gets its world kind's tools and user: no judge, no special backend
    task = tasks[0]
    env = suite.factories()[suite.row(task)["environment"]]()
    env.reset(**suite.row(task))
    assert env.python(code="print(2 + 2)") == "4"
    record_answers([[{"role": "assistant", "content": f"<answer>{task.gold[-1].text}</answer>"}]], [env])
    assert env.get_reward() == 1.0
