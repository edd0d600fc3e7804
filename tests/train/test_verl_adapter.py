"""The verl adapter: the token-level episode loop (without verl) and the reward function.

The loop is driven by a scripted generator that speaks the gold plan in the Hermes/Qwen tool-call format,
with a tokenizer trained here; verl itself (GPU rollout engine) is only import-checked where installed.
"""

import asyncio
import json

import pytest
from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.integrations.release_verl import tasks_to_verl_rows
from synthagent.integrations.verl import compute_score, run_episode_tokens
from synthagent.integrations.verl.episode import trajectory_field
from synthagent.spec.io import read_jsonl, write_jsonl
from synthagent.spec.models import Trajectory
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser

from testkit import make_task

runner = CliRunner()


def test_reward_function_matches_synthagent_score(tmp_path):
    tasks = [make_task(d, s, level) for d in ("retail",) for s in range(3) for level in (1, 3)]
    task_file, runs = tmp_path / "tasks.jsonl", tmp_path / "runs.jsonl"
    write_jsonl(task_file, tasks)
    for policy in ("oracle", "eager", "random", "silent"):
        r = runner.invoke(app, ["rollout", "--tasks", str(task_file), "--policy", policy, "--k", "2", "--out", str(runs)])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["score", "--runs", str(runs), "--tasks", str(task_file), "--json"])
    assert r.exit_code == 0, r.output
    expected = {(v["task_id"], v["policy"], v["sample"]): v["reward"] for v in json.loads(r.stdout)["verdicts"]}
    rows = {row["extra_info"]["task_id"]: row for row in tasks_to_verl_rows(tasks, embed_task=True)}
    trajectories = read_jsonl(runs, Trajectory)
    assert len(trajectories) == len(expected) == len(tasks) * 8
    rewards = set()
    for traj in trajectories:
        row = rows[traj.task_id]
        extra = dict(row["extra_info"]) | trajectory_field(traj)
        got = compute_score(row["data_source"], "", row["reward_model"]["ground_truth"], extra)
        assert got["score"] == expected[traj.key], traj.key
        nested = dict(row["extra_info"]) | {"tool_extra_fields": trajectory_field(traj)}
        assert compute_score(row["data_source"], "", None, nested)["score"] == got["score"]
        rewards.add(got["score"])
    assert len(rewards) > 1  # good and bad behaviour are told apart


def test_reward_function_scores_a_single_turn_response():
    task = make_task("retail", 1, 1)
    extra = tasks_to_verl_rows([task], embed_task=True)[0]["extra_info"]
    assert compute_score("synthagent", "<answer>Sorry.</answer>", None, extra)["score"] == 0.0
    with pytest.raises(ValueError, match="no embedded task"):
        compute_score("synthagent", "x", None, {"task": ""})


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    pytest.importorskip("trl")
    from synthagent.train.tiny import _bpe, _wrap

    texts = [json.dumps(row) for row in tasks_to_verl_rows([make_task("retail", s, 1) for s in range(6)])]
    return _wrap(_bpe(texts, 600))


def _gold_turns(task):
    """What a perfect model says each turn, in the release prompt's format."""
    turns = []
    for action in task.gold:
        if action.kind == "call":
            turns.append("Let me check.\n<tool_call>\n" + json.dumps({"name": action.tool, "arguments": action.arguments})
                         + "\n</tool_call>")
        elif action.kind == "answer":
            turns.append(f"<answer>{action.text}</answer>")
        else:
            turns.append(action.text or "")
    return turns


@pytest.mark.parametrize("level", [1, 3])
def test_agent_loop_episode_routes_calls_and_text_and_scores(tokenizer, level):
    task = make_task("retail", 11, level)
    row = tasks_to_verl_rows([task], embed_task=True)[0]
    turns = iter(_gold_turns(task))

    async def generate(prompt_ids):
        return tokenizer.encode(next(turns), add_special_tokens=False) + [tokenizer.eos_token_id]

    ep = asyncio.run(run_episode_tokens(task, row["prompt"], tokenizer, generate, ScriptedUser(), ExecutableBackend(),
                                        seed=0, max_turns=16))
    traj = ep.trajectory
    asks = sum(a.kind in ("ask", "confirm") for a in task.gold)
    assert traj.termination == "answer" and ep.reward == 1.0
    assert traj.counters.tool_calls == sum(a.kind == "call" for a in task.gold)  # tool calls → backend
    assert traj.counters.user_turns == asks + 1  # plain text → user simulator
    assert compute_score("synthagent", "", None, dict(row["extra_info"]) | trajectory_field(traj))["score"] == 1.0
    assert len(ep.response_ids) == len(ep.response_mask) and 0 in ep.response_mask and 1 in ep.response_mask
    # the token sequence is the chat template's rendering of the whole conversation
    conversation = list(row["prompt"])
    for m in traj.messages[2:]:
        role = "assistant" if m.actor == "agent" else ("tool" if m.role == "tool" else "user")
        if role == "assistant":
            text = m.content or ""
            if m.tool_calls:
                call = {"name": m.tool_calls[0].function.name, "arguments": json.loads(m.tool_calls[0].function.arguments)}
                text = "Let me check.\n<tool_call>\n" + json.dumps(call) + "\n</tool_call>"
            conversation.append({"role": "assistant", "content": text})
        else:
            conversation.append({"role": role, "content": m.content})
    rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
    assert tokenizer.decode(ep.prompt_ids + ep.response_ids, skip_special_tokens=False) == rendered.rstrip("\n")
    model_text = tokenizer.decode([t for t, m in zip(ep.response_ids, ep.response_mask) if m])
    assert "<tool_call>" in model_text and "<tool_response>" not in model_text


def test_agent_loop_episode_respects_the_response_budget(tokenizer):
    task = make_task("retail", 11, 1)
    row = tasks_to_verl_rows([task], embed_task=True)[0]

    async def generate(prompt_ids):
        return tokenizer.encode("Could you tell me more about it?", add_special_tokens=False) + [tokenizer.eos_token_id]

    ep = asyncio.run(run_episode_tokens(task, row["prompt"], tokenizer, generate, ScriptedUser(), ExecutableBackend(),
                                        max_turns=16, max_response_tokens=40))
    assert len(ep.response_ids) <= 40 and ep.reward == 0.0


def test_grpo_config_composes_against_verls_own_config_with_the_papers_values(monkeypatch, tmp_path):
    """Our YAML is composed by Hydra over verl's real `ppo_trainer` and its rollout section converted to verl's
    `RolloutConfig`, so a misspelt or misplaced key fails here, not on a cluster."""
    pytest.importorskip("verl", reason="verl is part of the test install (make test); pip install 'synthagent[verl]'")
    from importlib import resources

    from hydra import compose, initialize_config_dir
    from verl.utils.config import omega_conf_to_dataclass

    from synthagent.integrations.verl.agent_loop import settings_of

    monkeypatch.setenv("SYNTHAGENT_AGENT_LOOPS", "agent_loops.yaml")
    monkeypatch.setenv("SYNTHAGENT_REWARD_FN", "reward.py")
    monkeypatch.setenv("SYNTHAGENT_LLM_CONFIG", str(tmp_path / "llm.yaml"))
    monkeypatch.delenv("SYNTHAGENT_MOCK_STORE", raising=False)
    config_dir = str(resources.files("synthagent.integrations.verl") / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name="synthagent_grpo")
    actor, rollout = cfg.actor_rollout_ref.actor, omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    assert cfg.algorithm.adv_estimator == "grpo" and cfg.data.train_batch_size == 128 and rollout.n == 16  # paper
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.clip_ratio_c) == (0.2, 0.28, 10.0)  # paper; authors
    assert rollout.multi_turn.max_assistant_turns == 16 and rollout.response_length == 13312  # paper
    assert rollout.multi_turn.max_tool_response_length == 4096  # authors
    assert dict(cfg.data.apply_chat_template_kwargs) == {"enable_thinking": False}  # paper: non-thinking mode
    assert rollout.agent.default_agent_loop == "synthagent_agent"
    settings = settings_of(cfg)
    assert settings.llm_config == tmp_path / "llm.yaml" and settings.fault_policy == "drop"
    assert str(settings.mock_store) == "synthagent-mock-tools"


def test_loop_settings_come_from_the_config_block_and_the_environment():
    from synthagent.integrations.verl.settings import LoopSettings

    assert LoopSettings.resolve({"fault_policy": "zero"}, environ={}).fault_policy == "zero"
    env = {"SYNTHAGENT_FAULT_POLICY": "drop", "SYNTHAGENT_MOCK_STORE": "/shared/M", "SYNTHAGENT_JUDGE_TIMEOUT_S": "5"}
    got = LoopSettings.resolve({"fault_policy": "zero", "mock_store": "here"}, environ=env)
    assert (got.fault_policy, str(got.mock_store), got.judge_timeout_s) == ("drop", "/shared/M", 5.0)
    with pytest.raises(ValueError, match="fault_policy"):
        LoopSettings.resolve({"fault_policy": "ignore"}, environ={})
