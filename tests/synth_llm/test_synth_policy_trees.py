"""Stage P end to end against the fake teacher: policy trees, legal and illegal variants, adversarial users,
the obtainability gate, and the rubric self-tests on the synthesized tasks (gold → 1, persuaded → 0 on
illegal requests, nothing → 0), each episode played with the LLM user and LLM mock tools on the fake."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402

from synthagent.llm import LLMClient, load_config  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.sim.reference import OraclePolicy, SilentPolicy  # noqa: E402
from synthagent.sim.runtime import run_episode  # noqa: E402
from synthagent.sim.tools.llm_mock import LLMToolBackend  # noqa: E402
from synthagent.sim.users.llm import LLMUser, system_prompt  # noqa: E402
from synthagent.spec.io import read_jsonl  # noqa: E402
from synthagent.spec.models import FunctionCall, ItemVerdict, Message, RubricItem, Task, ToolCall  # noqa: E402
from synthagent.synth.llm.models import SynthRejection  # noqa: E402
from synthagent.synth.llm.obtainable import require_obtainable  # noqa: E402
from synthagent.synth.llm.options import SynthOptions  # noqa: E402
from synthagent.synth.llm.outcome import StageRejected  # noqa: E402
from synthagent.synth.llm.pipeline import run_pipeline  # noqa: E402
from synthagent.synth.llm.policy_tree import persuaded_gold  # noqa: E402
from synthagent.synth.obtainability import untraceable  # noqa: E402


def all_met_judge(task: Task, trajectory: Any, items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
    """A judge that grants every judged item: whatever fails below, a programmatic branch item failed it."""
    return [ItemVerdict(id=i.id, section=s, criterion=i.criterion, met=True, method="judge") for s, i in items]


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("trees")
    personas = fake.natural_mix(24, duplicates=0)
    with FakeOpenAIServer(fake.responder, keep_requests=False) as server:
        (tmp / "llm.yaml").write_text(fake.config_yaml(server.base_url, timeout_s=5.0))
        config = load_config(tmp / "llm.yaml")
        summary = asyncio.run(run_pipeline(config, personas, tmp / "out",
                                           SynthOptions(concurrency=8, max_turns=12, policy_trees=True)))
        tasks = read_jsonl(tmp / "out" / "tasks.jsonl", Task)
        rejected = read_jsonl(tmp / "out" / "rejected.jsonl", SynthRejection)
        rewards = asyncio.run(self_tests(config, tasks, tmp / "mocks"))
        assert not server.errors, server.errors[:3]
    return {"summary": summary, "tasks": tasks, "rejected": rejected, "rewards": rewards}


async def self_tests(config: Any, tasks: list[Task], mocks: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    async with LLMClient(config) as client:
        user, tools = LLMUser(client), LLMToolBackend(client, mocks)
        for task in tasks:
            persuaded = task.model_copy(update={"gold": persuaded_gold(task)})
            rewards = {}
            for label, policy, played in (("gold", OraclePolicy(), task), ("persuaded", OraclePolicy(), persuaded),
                                          ("nothing", SilentPolicy(), task)):
                trajectory = await run_episode(played, policy, user, tools, seed=1, max_turns=24)
                trajectory.task_id = task.id
                rewards[label] = score(task, trajectory, judge=all_met_judge).reward
            out[task.id] = rewards
    return out


def test_tasks_carry_a_tree_a_branch_and_both_variants(tree_run: dict[str, Any]) -> None:
    tasks = tree_run["tasks"]
    assert len(tasks) >= 8, tree_run["summary"]["funnel"]
    kinds = {t.branch.kind for t in tasks if t.branch}
    assert all(t.policy_tree is not None and t.branch is not None for t in tasks)
    assert {True, False} == {t.branch.illegal for t in tasks}  # legal and illegal variants both sampled
    assert kinds >= {"act", "refuse"} and kinds & {"transfer", "alternative"}, kinds
    for task in tasks:
        variants = task.metadata["policy_variants"]
        assert variants["sampled"] == ("illegal" if task.branch.illegal else "legal")
        assert ("legal" if task.branch.illegal else "illegal") in variants  # the other variant is kept
        assert task.source.params["prompts"]["P"] == "p_policy_tree.v1"
        assert any(line.startswith("[R1, identity]") for line in task.policy)
        assert task.world.state["record"]["status"]
        assert "nowhere" not in task.metadata["obtainability"] and task.metadata["obtainability"]["user"] >= 2
        if task.branch.illegal:
            assert task.branch.adversary == "insists" and task.slot("adversarial_claim") is not None
            assert "# How you push" in system_prompt(task)
            assert task.branch.claim not in task.instruction
            assert any(i.check and i.check.op == "not_called" and i.check.args["tool"] == task.policy_tree.action_tool
                       for i in task.rubric.forbidden)
        else:
            assert "# How you push" not in system_prompt(task)
        if task.branch.kind == "transfer":
            assert task.tool("transfer_to_human_agent") is not None
    assert tree_run["summary"]["funnel"]["P"]["entered"] > 0


def test_synthesized_branches_pass_the_self_tests(tree_run: dict[str, Any]) -> None:
    rewards = tree_run["rewards"]
    for task in tree_run["tasks"]:
        got = rewards[task.id]
        assert got["gold"] == 1.0, (task.branch, got)
        assert got["nothing"] == 0.0, (task.branch, got)
        if task.branch.illegal:
            assert got["persuaded"] == 0.0, (task.branch, got)
        else:
            assert got["persuaded"] == 1.0  # on a legal request, giving in is complying


def test_a_planted_untraceable_argument_is_rejected_with_its_reason(tree_run: dict[str, Any]) -> None:
    task = tree_run["tasks"][0]
    ref = str(task.private_info[0].value)
    call = ToolCall(id="c1", function=FunctionCall(name=task.policy_tree.evidence_tool,
                                                   arguments='{"record_id": "%s"}' % ref))
    good = [Message(role="user", actor="user", content=task.instruction),
            Message(role="user", actor="user", content=f"The record reference is {ref}."),
            Message(role="assistant", actor="agent", tool_calls=[call])]
    assert untraceable(task, good) == []
    planted = call.model_copy(update={"function": FunctionCall(name=call.function.name,
                                                               arguments='{"record_id": "REF-0000"}')})
    bad = [*good[:2], Message(role="assistant", actor="agent", tool_calls=[planted])]
    from synthagent.spec.models import Trajectory

    run = Trajectory(task_id=task.id, policy="teacher", messages=bad, termination="answer")
    with pytest.raises(StageRejected) as caught:
        require_obtainable(task, run)
    assert caught.value.stage == "F" and caught.value.kind == "untraceable"
    assert "record_id=\"REF-0000\"" in caught.value.reason and "comes from nowhere" in caught.value.reason


def test_cli_flag_runs_stage_p_and_a_resume_with_another_setting_is_refused(tmp_path: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from synthagent.commands.synth_llm import register

    app, synth_app = typer.Typer(), typer.Typer()
    app.add_typer(synth_app, name="synth")
    register(synth_app)
    personas = tmp_path / "personas.jsonl"
    personas.write_text("".join(json.dumps({"persona": p}) + "\n" for p in fake.natural_mix(4, duplicates=0)))
    with FakeOpenAIServer(fake.responder) as server:
        (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url))
        args = ["synth", "llm", "--config", str(tmp_path / "llm.yaml"), "--personas", str(personas),
                "--out", str(tmp_path / "out"), "--concurrency", "4", "--max-turns", "12"]
        result = CliRunner().invoke(app, [*args, "--policy-trees"])
        assert result.exit_code == 0, result.output
        tasks = read_jsonl(tmp_path / "out" / "tasks.jsonl", Task)
        assert tasks and all(t.branch is not None for t in tasks)
        result = CliRunner().invoke(app, args)  # same folder without the flag: other settings, refused
        assert result.exit_code != 0 and "policy_trees" in result.output
