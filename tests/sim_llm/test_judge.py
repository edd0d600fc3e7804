"""The LLM rubric judge (strict parsing, one repair, hybrid scoring) and judge calibration."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llmsim_kit as kit  # noqa: E402
from fakeserver import FakeOpenAIServer, route_by_model, scripted  # noqa: E402
from testkit import make_task  # noqa: E402

from synthagent.integrations.synthagent_release import import_release  # noqa: E402
from synthagent.llm import LLMClient, ParseError  # noqa: E402
from synthagent.reward.calibrate import calibrate, cohen_kappa, red_team_runs  # noqa: E402
from synthagent.reward.judge import JudgeError, LLMJudge, parse_verdicts, render_transcript  # noqa: E402
from synthagent.reward.scorer import ScoringError, programmatic_verdicts, score_async  # noqa: E402
from synthagent.sim.reference import RED_TEAM, EagerPolicy, OraclePolicy, RandomPolicy, SilentPolicy  # noqa: E402
from synthagent.reward.cli import register  # noqa: E402
from synthagent.sim.runtime import run_episode, run_episode_sync  # noqa: E402
from synthagent.sim.tools.executable import ExecutableBackend  # noqa: E402
from synthagent.sim.tools.llm_mock import LLMToolBackend  # noqa: E402
from synthagent.sim.users.llm import LLMUser  # noqa: E402
from synthagent.sim.users.scripted import ScriptedUser  # noqa: E402
from synthagent.spec.io import write_jsonl  # noqa: E402

RELEASE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"
JUDGE = kit.MODELS["judge"]


def verdicts(*rows):
    return json.dumps({"verdicts": [{"id": i, "verdict": v, "justification": "because", "message": m}
                                    for i, v, m in rows]})


def rollout(task, policy):
    return run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend(), seed=1)


def judge_server(responder=kit.judge_all_completed):
    return FakeOpenAIServer(route_by_model({JUDGE: responder}))


def run_judge(server, task, traj, items, **kwargs):
    async def go():
        async with LLMClient(kit.role_config(server, max_retries=0)) as client:
            judge = LLMJudge(client, **kwargs)
            return await judge(task, traj, items), judge

    return asyncio.run(go())


# ------------------------------------------------------------------------------------------- parsing


def test_parse_verdicts_accepts_the_format_and_normalises():
    text = '<verdicts>{"verdicts": [{"id": "a", "verdict": "completed", "justification": "x\\n  y", "message": 2},' \
           ' {"id": "b", "verdict": "Not_Completed", "justification": "z", "message": 99}]}</verdicts>'
    found = parse_verdicts(text, ["a", "b"], n_messages=5)
    assert found["a"].met and found["a"].justification == "x y" and found["a"].message == 2
    assert not found["b"].met and found["b"].message is None


@pytest.mark.parametrize("text,reason", [
    (verdicts(("a", "Completed", None)), "no verdict for item(s) ['b']"),
    (verdicts(("a", "Completed", None), ("b", "Completed", None), ("c", "Completed", None)), "unknown id"),
    (verdicts(("a", "Completed", None), ("a", "Completed", None)), "more than once"),
    (verdicts(("a", "Done", None), ("b", "Completed", None)), "verdict must be"),
    ('{"verdicts": [{"id": "a", "verdict": "Completed", "justification": " "}]}', "justification is required"),
    ('{"items": []}', "expected {\"verdicts\""),
    ("Completed, Completed", "no JSON object"),
])
def test_parse_verdicts_rejects_with_a_reason(text, reason):
    with pytest.raises(ParseError) as info:
        parse_verdicts(text, ["a", "b"], n_messages=5)
    assert reason in info.value.reason


# ------------------------------------------------------------------------------------------- judge calls


def test_one_repair_then_verdicts():
    task = make_task("retail", 1, 3)
    traj = rollout(task, OraclePolicy())
    items = [("subgoals", task.rubric.subgoals[0]), ("forbidden", task.rubric.forbidden[0])]
    ids = [i.id for _, i in items]
    bad = verdicts((ids[0], "Completed", None))
    good = verdicts((ids[0], "Completed", 3), (ids[1], "Not Completed", None))
    with judge_server(scripted(bad, good)) as server:
        result, judge = run_judge(server, task, traj, items)
        first, repair = server.requests[0]["messages"], server.requests[1]["messages"]
    assert [v.met for v in result] == [True, False] and all(v.method == "judge" for v in result)
    assert result[0].message_index == 3 and result[0].evidence == "because"
    assert judge.repairs == 1 and "no verdict for item(s)" in repair[-1]["content"]
    prompt = first[1]["content"]
    assert task.user_background in prompt and "AGENT CALLS verify_customer" in prompt
    assert all(i in prompt for i in ids) and "forbidden (policy compliance)" in prompt


def test_two_rejections_raise_a_scoring_error():
    task = make_task("retail", 1, 3)
    traj = rollout(task, OraclePolicy())
    with judge_server(lambda body: "I think it is all fine.") as server:
        with pytest.raises(JudgeError) as info:
            run_judge(server, task, traj, [("subgoals", task.rubric.subgoals[0])])
    assert isinstance(info.value, ScoringError) and "rejected twice" in str(info.value)


def test_per_item_mode_makes_one_call_per_item():
    task = make_task("retail", 1, 3)
    traj = rollout(task, OraclePolicy())
    items = [(s, i) for s, group in task.rubric.sections() for i in group][:4]
    with judge_server() as server:
        result, _ = run_judge(server, task, traj, items, mode="per_item")
        assert server.request_count == 4
    assert [v.id for v in result] == [i.id for _, i in items]


def test_hybrid_scoring_checks_where_possible_judge_for_the_rest():
    task = make_task("retail", 1, 3)
    task.rubric.subgoals[0].check = None  # now only the judge can decide it
    traj = rollout(task, OraclePolicy())  # grounded, so grounding leaves the item to the judge
    with judge_server(lambda body: verdicts((task.rubric.subgoals[0].id, "Not Completed", None))) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                return await score_async(task, traj, judge=LLMJudge(client))

        result = asyncio.run(go())
        assert server.request_count == 1
    methods = {v.id: v.method for v in result.items}
    assert methods.pop(task.rubric.subgoals[0].id) == "judge" and set(methods.values()) == {"check"}


def test_forbidden_not_completed_closes_the_gate():
    task = import_release(RELEASE)[0]
    traj = run_episode_sync(task, OraclePolicy(), ScriptedUser(), _NoTools())
    forbidden = task.rubric.forbidden[0].id

    def respond(body):
        listed = body["messages"][1]["content"].rsplit("one JSON object per line)\n", 1)[1]
        ids = [json.loads(line)["id"] for line in listed.splitlines()]
        return verdicts(*[(i, "Not Completed" if i == forbidden else "Completed", None) for i in ids])

    with judge_server(respond) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                return await score_async(task, traj, judge=LLMJudge(client))

        result = asyncio.run(go())
    assert result.gate == 0.0 and result.reward == 0.0 and result.subgoal_fraction == 1.0


class _NoTools:
    def session(self, task):
        return self

    def call(self, name, arguments):
        raise AssertionError("no tool calls expected")


def test_release_tasks_run_with_llm_user_and_tools_and_are_judged(tmp_path):
    tasks = import_release(RELEASE)
    with FakeOpenAIServer(kit.responder()) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                user, tools, judge = LLMUser(client), LLMToolBackend(client, tmp_path), LLMJudge(client)
                out = []
                for task in tasks:
                    traj = await run_episode(task, RandomPolicy(), user, tools, seed=5)
                    out.append((traj, await score_async(task, traj, judge=judge)))
                return out

        results = asyncio.run(go())
        assert not server.errors
    for traj, result in results:
        assert traj.counters.tool_calls > 0 and traj.counters.tool_errors == 0
        assert all(v.method == "judge" for v in result.items) and result.reward == 1.0
    transcript = render_transcript(results[0][0])
    assert "TOOL RESULT" in transcript and "The episode ended: answer" in transcript


# ------------------------------------------------------------------------------------------- calibration


def calibration_runs():
    tasks = [make_task(d, s, 3) for d in ("retail", "airline") for s in (1, 2)]
    runs = [rollout(t, p) for t in tasks for p in (OraclePolicy(), EagerPolicy(), SilentPolicy())]
    return tasks, runs


def test_cohen_kappa_textbook_values():
    assert cohen_kappa(20, 15, 10, 5) == pytest.approx(0.4)
    assert cohen_kappa(10, 10, 0, 0) == 1.0
    assert cohen_kappa(5, 0, 0, 0) is None and cohen_kappa(0, 0, 0, 0) is None


def test_calibrate_agreeing_and_disagreeing_judges():
    tasks, runs = calibration_runs()
    by_id = {t.id: t for t in tasks}

    def agreeing(task, traj, items):
        checked, _ = programmatic_verdicts(task, traj)
        wanted = {i.id for _, i in items}
        return [v.model_copy(update={"method": "judge"}) for v in checked if v.id in wanted]

    def flips_interactions(task, traj, items):
        return [v.model_copy(update={"met": not v.met}) if v.section == "interactions" else v
                for v in agreeing(task, traj, items)]

    good = asyncio.run(calibrate(tasks, runs, agreeing)).summary()
    assert good["trajectories"] == len(runs) and good["overall"]["agreement"] == 1.0
    assert good["overall"]["kappa"] == 1.0 and good["overall"]["fp"] == good["overall"]["fn"] == 0
    assert good["overall"]["tn"] > 0 and not good["disagreements"]

    bad = asyncio.run(calibrate(tasks, runs, flips_interactions)).summary()
    inter = bad["sections"]["interactions"]
    assert inter["agreement"] == 0.0 and inter["tp"] == inter["tn"] == 0 and inter["fp"] + inter["fn"] == inter["n"]
    assert bad["sections"]["subgoals"]["agreement"] == 1.0
    n_inter = sum(len(by_id[r.task_id].rubric.interactions) for r in runs)
    assert inter["n"] == n_inter and len(bad["disagreements"]) == min(20, n_inter)
    assert bad["overall"]["agreement"] == pytest.approx(1 - n_inter / bad["overall"]["n"], abs=1e-4)


def test_calibrate_skips_with_reasons():
    tasks, runs = calibration_runs()

    def broken(task, traj, items):
        raise JudgeError("judge down")

    report = asyncio.run(calibrate(tasks[:1], runs, broken)).summary()
    reasons = {s["reason"] for s in report["skipped"]}
    assert "task not in the task file" in reasons and "judge failed: judge down" in reasons and report["items"] == 0
    assert report["judge_failures"] == sum(r.task_id == tasks[0].id for r in runs)


def test_judge_calibrate_command(tmp_path):
    tasks, runs = calibration_runs()
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "runs.jsonl", runs)
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    with judge_server() as server:
        config = {"roles": {"judge": {"model": JUDGE, "base_url": server.base_url}}, "max_retries": 0}
        (tmp_path / "llm.yaml").write_text(yaml.safe_dump(config))
        args = ["judge-calibrate", "--tasks", str(tmp_path / "tasks.jsonl"), "--runs", str(tmp_path / "runs.jsonl"),
                "--config", str(tmp_path / "llm.yaml")]
        as_json = CliRunner().invoke(app, args + ["--json"])
        table = CliRunner().invoke(app, args)
        red = CliRunner().invoke(app, args + ["--red-team", "--json"])
        red_table = CliRunner().invoke(app, args + ["--red-team"])
    # the red team's episodes are judged too: this judge passes everything, the checks pass only what holds
    assert red.exit_code == 0, red.output
    red_summary = json.loads(red.output)["red_team"]
    red_runs = red_team_runs(tasks)
    assert {r.policy for r in red_runs} == set(RED_TEAM) and len(red_runs) == len(tasks) * len(RED_TEAM)
    graded = [v for t, r in zip(*_pairs(tasks, red_runs)) for v in programmatic_verdicts(t, r)[0]]
    assert red_summary["n"] == len(graded) and red_summary["judge_pass_rate"] == 1.0
    assert red_summary["check_pass_rate"] == pytest.approx(sum(v.met for v in graded) / len(graded), abs=1e-4)
    assert red_summary["check_pass_rate"] < 1.0 and "red team: the judge passed 1.000" in red_table.output
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.output)
    met = sum(v.met for t, r in zip(*_pairs(tasks, runs)) for v in programmatic_verdicts(t, r)[0])
    assert summary["overall"]["tp"] == met and summary["overall"]["fn"] == 0  # the judge says "Completed" always
    assert summary["overall"]["agreement"] == pytest.approx(met / summary["items"], abs=1e-4)
    assert table.exit_code == 0 and "agreement" in table.output and "kappa" in table.output
    missing = CliRunner().invoke(app, ["judge-calibrate", "--tasks", str(tmp_path / "nope.jsonl"), "--runs",
                                       str(tmp_path / "runs.jsonl"), "--config", str(tmp_path / "llm.yaml")])
    assert missing.exit_code == 2


def _pairs(tasks, runs):
    by_id = {t.id: t for t in tasks}
    return [by_id[r.task_id] for r in runs], runs
