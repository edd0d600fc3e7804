"""The judge's two views (ours, the authors'), self-consistency votes, and judge failures as unscored outcomes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llmsim_kit as kit  # noqa: E402
from fakeserver import Fault, FakeOpenAIServer, route_by_model  # noqa: E402
from testkit import make_task  # noqa: E402

from synthagent.cli import app  # noqa: E402
from synthagent.integrations.synthagent_release import import_release  # noqa: E402
from synthagent.llm import LLMClient  # noqa: E402
from synthagent.reward.judge import LLMJudge, majority  # noqa: E402
from synthagent.reward.scorer import reward_config, score_episode, training_reward  # noqa: E402
from synthagent.sim.reference import OraclePolicy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402
from synthagent.sim.tools.executable import ExecutableBackend  # noqa: E402
from synthagent.sim.users.scripted import ScriptedUser  # noqa: E402
from synthagent.spec.io import write_jsonl  # noqa: E402
from synthagent.spec.models import ItemVerdict  # noqa: E402

RELEASE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"
JUDGE = kit.MODELS["judge"]


def listed_ids(body):
    prompt = kit.last(body, "user")
    return [json.loads(line)["id"] for line in prompt.rsplit("one JSON object per line)\n", 1)[1].splitlines()]


def reply(ids, verdict="Completed", message=None):
    return json.dumps({"verdicts": [{"id": i, "verdict": verdict, "justification": f"{verdict} here",
                                     "message": message} for i in ids]})


def judged_task(seed=1):
    """A procedural task whose sub-goals go to the judge (no checks), so every score needs a judge call."""
    task = make_task("retail", seed, 3)
    for item in task.rubric.subgoals:
        item.check = None
    return task


def rollout(task, policy):
    return run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend(), seed=1)


def judge_with(server, **kwargs):
    async def go(task, traj, items):
        async with LLMClient(kit.role_config(server, max_retries=1)) as client:
            judge = LLMJudge(client, **kwargs)
            return await judge(task, traj, items), judge
    return go


def test_authors_view_shows_question_rubric_markdown_and_whole_solution_only():
    task = import_release(RELEASE)[0]
    long_answer = "x" * 5_000
    traj = run_episode_sync(task, OraclePolicy(), ScriptedUser(), _NoTools())
    traj.messages[-1] = traj.messages[-1].model_copy(update={"content": long_answer})
    assert traj.messages[-1].actor == "agent"
    items = [(s, i) for s, group in task.rubric.sections() for i in group]
    with FakeOpenAIServer(route_by_model({JUDGE: lambda body: reply(listed_ids(body))})) as server:
        ours, _ = asyncio.run(judge_with(server)(task, traj, items))
        authors, judge = asyncio.run(judge_with(server, view="authors")(task, traj, items))
        ours_prompt, authors_prompt = (r["messages"][1]["content"] for r in server.requests)
    assert [v.id for v in ours] == [v.id for v in authors] == [i.id for _, i in items]
    # ours: background and clipped messages; theirs: the release's rubric markdown, the whole solution, no background
    assert task.user_background in ours_prompt and long_answer not in ours_prompt
    assert task.user_background not in authors_prompt and long_answer in authors_prompt
    assert task.metadata["release_verbatim"]["rubrics"] in authors_prompt and "# Question\n" + task.instruction in authors_prompt
    assert "# Policy" not in authors_prompt and "# Tools" not in authors_prompt


class _NoTools:
    def session(self, task):
        return self

    def call(self, name, arguments):
        raise AssertionError("no tool calls expected")


def test_votes_decide_by_majority_with_the_split_in_the_evidence():
    task = judged_task()
    traj = rollout(task, OraclePolicy())
    items = [("subgoals", i) for i in task.rubric.subgoals]
    answers = iter(["Completed", "Not Completed", "Completed"])

    def respond(body):
        return reply(listed_ids(body), next(answers), message=2)

    with FakeOpenAIServer(route_by_model({JUDGE: respond})) as server:
        result, judge = asyncio.run(judge_with(server, votes=3)(task, traj, items))
        assert server.request_count == 3
    assert all(v.met and v.message_index == 2 and v.evidence.startswith("(2/3 votes)") for v in result)
    assert judge.failed_votes == 0


def test_majority_ties_are_not_met_and_failed_votes_are_named():
    def vote(met):
        return ItemVerdict(id="a", section="subgoals", criterion="c", met=met, evidence="e", method="judge")

    tie = majority([vote(True), vote(False)], votes=3)
    assert not tie.met and tie.evidence == "(1/2 votes, 1 failed) e"
    assert majority([vote(True)] * 3 + [vote(False)] * 2, votes=5).met


def test_a_judge_that_fails_after_retries_leaves_the_episode_unscored():
    task = judged_task()
    traj = rollout(task, OraclePolicy())
    with FakeOpenAIServer(route_by_model({JUDGE: lambda body: Fault.server_error()})) as server:
        async def go():
            async with LLMClient(kit.role_config(server, max_retries=1)) as client:
                return await score_episode(task, traj, reward_config("paper"), judge=LLMJudge(client))

        result = asyncio.run(go())
        assert server.request_count == 2  # the first try and one retry
    assert result is None and traj.result is None and traj.unscored
    assert traj.fault.role == "judge" and "judge call failed" in traj.fault.message
    assert training_reward(traj, reward_config("paper")) is None and training_reward(traj, reward_config("authors")) == 0.0


def test_score_with_30_percent_of_judge_calls_failing_completes_and_counts_unscored(tmp_path):
    tasks = [judged_task(seed) for seed in range(1, 11)]
    runs = [rollout(t, OraclePolicy()) for t in tasks]
    failing = {t.instruction for t in tasks[:3]}  # 3 of 10 trajectories: 30% of the judge's calls fail, retries too

    def respond(body):
        prompt = kit.last(body, "user")
        if any(text in prompt for text in failing):
            return Fault.server_error()
        return reply(listed_ids(body))

    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "runs.jsonl", runs)
    with FakeOpenAIServer(route_by_model({JUDGE: respond})) as server:
        config = {"roles": {"judge": {"model": JUDGE, "base_url": server.base_url}}, "max_retries": 1,
                  "backoff_base_s": 0.01, "backoff_max_s": 0.02, "reward": "authors"}
        (tmp_path / "llm.yaml").write_text(yaml.safe_dump(config))
        args = ["score", "--runs", str(tmp_path / "runs.jsonl"), "--tasks", str(tmp_path / "tasks.jsonl"),
                "--config", str(tmp_path / "llm.yaml")]
        as_json = CliRunner().invoke(app, args + ["--json"])
        table = CliRunner().invoke(app, args)
        bad_preset = CliRunner().invoke(app, args + ["--reward-preset", "nope"])
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.stdout)
    assert [u["fault"]["role"] for u in out["unscored"]] == ["judge"] * 3 and len(out["verdicts"]) == 7
    assert sum(s["unscored"] for s in out["summary"].values()) == 3
    assert {v["reward"] for v in out["verdicts"]} == {1.0}
    assert table.exit_code == 0 and "3 unscored episode(s) (judge 3)" in table.output
    assert bad_preset.exit_code == 2 and "presets are paper, authors, outcome" in bad_preset.output
