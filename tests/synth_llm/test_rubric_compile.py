"""Stage E's rubrics as rich as the authors': on tasks from `synth llm` against the local fake teacher, every
rubric has the anti-fabrication item, interaction items carry the three parts, checkable items are compiled,
`synthagent score` prints the compiled share, and the self-tests hold under both reward presets (gold → 1,
nothing → 0, acting without asking fails every interaction item) — played through `rollout` with the fake's
user, tool and judge models, and on procedural tasks."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402
from testkit import make_task  # noqa: E402

from synthagent.cli import app  # noqa: E402
from synthagent.integrations.rubric_markdown import (parse_rubric_markdown, render_rubric_markdown,  # noqa: E402
                                                   rubric_criteria)
from synthagent.llm import load_config  # noqa: E402
from synthagent.reward.coverage import compiled_share  # noqa: E402
from synthagent.reward.scorer import reward_config  # noqa: E402
from synthagent.reward.selftest import self_test  # noqa: E402
from synthagent.spec.io import read_jsonl  # noqa: E402
from synthagent.spec.models import Task  # noqa: E402
from synthagent.synth.llm.options import SynthOptions  # noqa: E402
from synthagent.synth.llm.pipeline import run_pipeline  # noqa: E402
from synthagent.synth.llm.rubric import ANTI_FABRICATION  # noqa: E402

POLICIES = ("oracle", "eager", "silent")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tasks from `synth llm` on 24 personas, then oracle, eager and silent episodes on each through `rollout`,
    and `score` under both presets; all against one fault-free fake server."""
    tmp = tmp_path_factory.mktemp("compiled")
    runner = CliRunner()
    out: dict[str, Any] = {"tmp": tmp}
    with FakeOpenAIServer(fake.responder, keep_requests=False) as server:
        llm = tmp / "llm.yaml"
        llm.write_text(fake.config_yaml(server.base_url, timeout_s=2.0))
        asyncio.run(run_pipeline(load_config(llm), fake.persona_mix(24, duplicates=0), tmp / "synth",
                                 SynthOptions(concurrency=8, max_turns=10)))
        tasks = tmp / "synth" / "tasks.jsonl"
        for policy in POLICIES:
            result = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", policy, "--config", str(llm),
                                         "--out", str(tmp / f"{policy}.jsonl"), "--max-turns", "12"])
            assert result.exit_code == 0, result.output
        runs = [arg for p in POLICIES for arg in ("--runs", str(tmp / f"{p}.jsonl"))]
        for preset in ("paper", "authors"):
            result = runner.invoke(app, ["score", *runs, "--tasks", str(tasks), "--config", str(llm),
                                         "--reward-preset", preset, "--json"])
            assert result.exit_code == 0, result.output
            out[preset] = json.loads(result.output)
        human = runner.invoke(app, ["score", *runs, "--tasks", str(tasks), "--config", str(llm)])
        assert human.exit_code == 0, human.output
        out["human"] = human.output
    out["tasks"] = read_jsonl(tasks, Task)
    return out


def test_every_rubric_is_rich_and_compiled(synthesized: dict[str, Any]) -> None:
    tasks = synthesized["tasks"]
    assert len(tasks) >= 10
    for task in tasks:
        rubric = task.rubric
        fabrication = [i for i in rubric.forbidden if i.criterion.startswith(ANTI_FABRICATION)]
        assert len(fabrication) == 1 and fabrication[0].check is not None
        assert fabrication[0].check.op == "no_unasked_arguments" and fabrication[0].check.args["uses"]
        for item in rubric.interactions:  # the three parts, typed and in the judge's text
            assert item.interaction is not None and item.interaction.ask and item.interaction.sufficient
            assert item.interaction.premature and "- Premature action: " in item.criterion
            assert item.check is not None and item.check.op == "revealed_before_use" and item.check.args["used"]
        assert len(rubric.subgoals) == len(task.workflow) >= 5  # one per workflow step
        ops = {i.check.op for _, items in rubric.sections() for i in items if i.check is not None}
        assert {"called", "not_called", "revealed_before_use", "no_unasked_arguments"} <= ops
        called = [i.check for i in rubric.subgoals if i.check is not None]
        assert all(c.args["grounded"] and c.args["args"] for c in called)  # the user's values, as given
        assert task.metadata["rubric_compile"]["demoted"] == []  # every compiled check passes on the gold run
        # the authors' markdown (export, authors' judge view) carries the rich criteria and reads back unchanged
        assert rubric_criteria(parse_rubric_markdown(render_rubric_markdown(rubric))) == rubric_criteria(rubric)
    share = compiled_share(tasks)
    assert 0 < share["overall"]["share"] < 1 and share["interactions"]["share"] == 1.0


def test_score_prints_the_compiled_share(synthesized: dict[str, Any]) -> None:
    share = compiled_share(synthesized["tasks"])
    assert synthesized["paper"]["compiled"] == share
    line = next(line for line in synthesized["human"].splitlines() if "compiled to checks" in line)
    assert f"{100 * share['overall']['share']:.1f}%" in line and "interactions 100.0%" in line
    print(line)


@pytest.mark.parametrize("preset", ["paper", "authors"])
def test_self_tests_hold_on_every_synthesized_task(synthesized: dict[str, Any], preset: str) -> None:
    report = synthesized[preset]
    assert not report["unscored"]
    by = {(v["policy"], v["task_id"]): v for v in report["verdicts"]}
    for task in synthesized["tasks"]:
        gold, nothing, eager = by[("oracle", task.id)], by[("silent", task.id)], by[("eager", task.id)]
        assert gold["reward"] == 1.0, [i for i in gold["items"] if not i["met"]]
        assert nothing["reward"] == 0.0
        interactions = [i for i in eager["items"] if i["section"] == "interactions"]
        assert interactions and not any(i["met"] for i in interactions)
        fabrication = next(i for i in eager["items"] if i["criterion"].startswith(ANTI_FABRICATION))
        assert not fabrication["met"] and fabrication["method"] == "check"  # guessed parameters are caught


@pytest.mark.parametrize("domain,seed", [("retail", 1), ("retail", 7), ("it_helpdesk", 3), ("hr_leave", 5)])
def test_self_tests_hold_on_procedural_tasks_under_the_authors_preset(domain: str, seed: int) -> None:
    task = make_task(domain, seed, 3)
    for config in (reward_config("paper"), reward_config("authors")):
        report = self_test(task, config)
        assert report.passed, report.reasons
        assert report.rewards["gold"] == 1.0 and report.rewards["do_nothing"] == 0.0
