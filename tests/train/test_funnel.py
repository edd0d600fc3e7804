"""The steps a held-out evaluation reports (`train/funnel.py`): how far an episode got along its plan."""

from __future__ import annotations

from synthagent.reward.scorer import score
from synthagent.sim.reference import OraclePolicy, SilentPolicy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.train.funnel import STEPS, episode_steps, summarize, task_kind
from synthagent.train.splits import procedural_tasks


def _episode(task, policy):
    traj = run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend())
    return traj, score(task, traj).success


def _cut_after(traj, tool_name):
    """The trajectory up to and including the result of the first call to `tool_name`."""
    for i, msg in enumerate(traj.messages):
        if msg.role == "tool" and msg.name == tool_name:
            return traj.model_copy(update={"messages": traj.messages[: i + 1]})
    raise AssertionError(f"no call to {tool_name}")


def test_the_reference_plan_reaches_every_step_and_silence_none():
    tasks = procedural_tasks(("food_delivery", "gen-3"), (1, 2), 8, seed=5)
    for task in tasks:
        traj, ok = _episode(task, OraclePolicy())
        assert ok and episode_steps(task, traj, ok) == dict.fromkeys(STEPS, True), task.id
        traj, ok = _episode(task, SilentPolicy())
        assert episode_steps(task, traj, ok) == dict.fromkeys(STEPS, False), task.id
    assert {task_kind(t) for t in tasks} <= {"lookup", "change"}


def test_an_episode_that_stops_after_the_identity_check_reaches_only_the_first_two_steps():
    task = next(t for t in procedural_tasks(("food_delivery",), (1,), 20, seed=1)
                if task_kind(t) == "change" and any(a.tool == "get_order" for a in t.gold))
    traj, _ = _episode(task, OraclePolicy())
    cut = _cut_after(traj, "verify_customer")
    steps = episode_steps(task, cut, False)
    assert steps == {"called_a_tool": True, "verified": True, "read_every_record": False,
                     "made_every_change": False, "succeeded": False}
    # the same call with a wrong email is an error result: not verified
    bad = cut.model_copy(deep=True)
    bad.messages[-1].error = True
    assert episode_steps(task, bad, False)["verified"] is False
    assert summarize([steps, episode_steps(task, traj, True)]) == {
        "called_a_tool": 1.0, "verified": 1.0, "read_every_record": 0.5, "made_every_change": 0.5, "succeeded": 0.5}
