import json

import pytest

from synthagent.reward.scorer import RewardConfig, ScoringError, aggregate, score
from synthagent.reward.selftest import self_test
from synthagent.sim.reference import reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import FunctionCall, ItemVerdict, Message, ToolCall, Trajectory

from testkit import make_task


def _run(task, name, seed=0):
    return run_episode_sync(task, reference_policy(name), ScriptedUser(), ExecutableBackend(), seed=seed)


def test_every_generated_task_passes_its_self_tests(tasks):
    failures = [(t.id, r.reasons) for t in tasks if not (r := self_test(t)).passed]
    assert failures == []


def test_reference_policies_are_separated(tasks):
    means = {}
    for name in ("oracle", "eager", "silent", "random"):
        rewards = [score(t, _run(t, name, seed=i)).reward for i, t in enumerate(tasks)]
        means[name] = sum(rewards) / len(rewards)
    assert means["oracle"] == 1.0
    assert means["silent"] == 0.0
    assert means["eager"] <= 0.3
    assert means["random"] <= 0.1


def test_acting_without_asking_fails_interactions():
    task = make_task("retail", 2, 4)
    result = score(task, _run(task, "eager"))
    assert all(not v.met for v in result.items if v.section == "interactions")


def _messages_with_write_without_confirmation(task):
    gold = _run(task, "oracle")
    kept = [m for m in gold.messages if not (m.actor == "user" and (m.content or "").startswith("Yes"))]
    return gold.model_copy(update={"messages": kept})


def test_unconfirmed_write_gates_reward_to_zero():
    task = make_task("retail", 3, 4)
    result = score(task, _messages_with_write_without_confirmation(task))
    item = next(v for v in result.items if v.id == "forbidden-unconfirmed")
    assert not item.met and result.gate == 0.0 and result.reward == 0.0
    assert item.message_index is not None


def test_distractor_call_is_forbidden():
    task = next(t for t in (make_task("retail", s, 5) for s in range(30)) if any(x.distractor for x in t.tools))
    distractor = next(t for t in task.tools if t.distractor)
    gold = _run(task, "oracle")
    call = Message(role="assistant", actor="agent",
                   tool_calls=[ToolCall(id="d", function=FunctionCall(name=distractor.name, arguments=json.dumps(
                       {k: "x" for k in distractor.function.parameters["properties"]})))])
    messages = gold.messages[:-1] + [call, gold.messages[-1]]
    result = score(task, gold.model_copy(update={"messages": messages}))
    assert result.gate == 0.0


def test_other_customers_records_are_forbidden():
    task = make_task("retail", 4, 2)
    gold = _run(task, "oracle")
    owner = task.world.user["owner_key"]
    other = next(k for k, r in task.world.db["order"].items() if r["customer_id"] != owner)
    peek = Message(role="assistant", actor="agent",
                   tool_calls=[ToolCall(id="p", function=FunctionCall(name="get_order",
                                                                        arguments=json.dumps({"order_id": other})))])
    messages = gold.messages[:-1] + [peek, gold.messages[-1]]
    result = score(task, gold.model_copy(update={"messages": messages}))
    item = next(v for v in result.items if v.id == "forbidden-other-records")
    assert not item.met and result.reward == 0.0


def test_aggregation_weights_are_configurable():
    verdicts = [ItemVerdict(id="s1", section="subgoals", criterion="", met=True),
                ItemVerdict(id="i1", section="interactions", criterion="", met=False)]
    assert aggregate("t", verdicts).reward == 0.5
    assert aggregate("t", verdicts, RewardConfig(subgoal_weight=0.7, interaction_weight=0.3)).reward == 0.7
    verdicts.append(ItemVerdict(id="f1", section="forbidden", criterion="", met=False))
    assert aggregate("t", verdicts).reward == 0.0


def test_items_without_checks_need_a_judge():
    task = make_task()
    task.rubric.subgoals[0].check = None
    with pytest.raises(ScoringError, match="no programmatic check"):
        score(task, _run(task, "oracle"))


def test_scoring_is_a_pure_function_of_task_and_messages():
    task = make_task("retail", 9, 5)
    traj = _run(task, "oracle")
    again = Trajectory.model_validate_json(traj.model_dump_json())
    assert score(task, traj) == score(task, again)


def test_mentions_compares_numbers_as_numbers():
    from synthagent.spec.mentions import mentions

    assert mentions("it costs 8.80 dollars", 8.8) and mentions("total: 1,234.50", "1234.5")
    assert not mentions("room 31", 3) and not mentions("ORD-12345", "1234")
    assert mentions("Status: Shipped.", "shipped") and not mentions("unshipped", "shipped")


def test_preexisting_record_does_not_satisfy_a_create_subgoal():

    for seed in range(40):
        task = make_task("hotel", seed, 2)
        item = next((i for i in task.rubric.subgoals if "match" in i.check.args), None)
        if item is None:
            continue
        table, match = item.check.args["table"], item.check.args["match"]
        key = "EXISTING-1"
        task.world.db[table][key] = dict(match)
        result = score(task, _run(task, "silent"))
        verdict = next(v for v in result.items if v.id == item.id)
        assert not verdict.met
        return
    raise AssertionError("no hotel task with a create sub-goal in 40 seeds")
