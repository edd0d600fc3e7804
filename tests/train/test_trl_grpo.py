"""`synthagent train grpo` end to end on CPU, no network: tasks made by `synth llm` against the local fake
teacher, a tiny random-init Qwen3 taught one tool call by a few seconds of SFT, then TRL's real GRPOTrainer
with the LLM user, the LLM mock tools (mapping M) and the LLM judge, all served by the local fake server;
then `rollout --policy hf:` on what it trained. Plus the unscored-episode policy, without a model."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("trl")
pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synth_llm"))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from synthagent.cli import app  # noqa: E402
from synthagent.integrations.trl.rollouts import episode_reward, play_scored, trainer_reward  # noqa: E402
from synthagent.rollout.policies import build_simulators  # noqa: E402
from synthagent.sim.reference import reference_policy  # noqa: E402
from synthagent.sim.kinds import RoutedTools, RoutedUsers  # noqa: E402
from synthagent.sim.runtime import system_prompt  # noqa: E402
from synthagent.spec.io import read_jsonl  # noqa: E402
from synthagent.spec.models import Task, Trajectory  # noqa: E402


def judge_by_hash(body: dict) -> str:
    """Grades each rubric item Completed or not by a hash of the transcript and the item: a pure function
    of the request (identical episodes get identical grades), so different rollouts get different rewards."""
    prompt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    listed = prompt.rsplit("one JSON object per line)\n", 1)[1]
    ids = [json.loads(line)["id"] for line in listed.splitlines() if line.strip()]
    verdicts = []
    for item in ids:
        done = hashlib.sha256(f"{prompt}|{item}".encode()).digest()[0] % 2 == 0
        verdicts.append({"id": item, "verdict": "Completed" if done else "Not Completed",
                         "justification": "seen in the transcript", "message": None})
    return json.dumps({"verdicts": verdicts})


def responder(body: dict) -> object:
    return judge_by_hash(body) if body.get("model") == fake.JUDGE else fake.responder(body)


def synth_tasks(tmp: Path, server: FakeOpenAIServer, n: int = 3) -> Path:
    personas = [p for p in fake.synthetic_personas() if fake.fate(p) == "ok"][:n]
    (tmp / "personas.jsonl").write_text("".join(json.dumps({"persona": p}) + "\n" for p in personas))
    result = CliRunner().invoke(app, ["synth", "llm", "--config", str(tmp / "llm.yaml"), "--personas",
                                      str(tmp / "personas.jsonl"), "--n", str(n), "--out", str(tmp / "synth")])
    assert result.exit_code == 0, result.output
    return tmp / "synth" / "tasks.jsonl"


def demonstration(task: Task) -> list[dict]:
    """The runtime's opening, a question to the user, a call of the task's first gold tool (text protocol),
    its result, an answer.

    The question comes first because filling a tool parameter that takes a hidden detail before the user has
    given it is the fabrication the rubric's anti-fabrication item fails (reward 0 for every rollout, so no
    group would have spread). The call's argument is a plain word, not the gold value, which a tiny model
    could not copy anyway."""
    call = next(g for g in task.gold if g.kind == "call")
    asked = task.slot(next(g.slot for g in task.gold if g.kind == "ask"))
    harmless = {name: "recent" for name in (call.arguments or {})}
    return [{"role": "system", "content": system_prompt(task)}, {"role": "user", "content": task.instruction},
            {"role": "assistant", "content": "Which record is it?"},
            # the fake user's words for this slot (synth_fake_teacher.user), so the demonstration's next turn
            # follows what the model will actually see
            {"role": "user", "content": f"The record reference is {asked.value}."},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": call.tool, "arguments": harmless}}]},
            {"role": "tool", "content": "{\"ok\": true}"},
            {"role": "assistant", "content": "<answer>Done.</answer>"}]


def tiny_model_that_calls_a_tool(tasks: list[Task], folder: Path) -> dict[str, torch.Tensor]:
    """A random-init tiny Qwen3 and tokenizer (train/tiny.py), then a few seconds of SFT on one
    demonstration per task, so its sampled turns are mostly valid tool calls: repeated calls are what M is
    for. Saves both to `folder`; returns the weights GRPO starts from."""
    from synthagent.train.tiny import TinyConfig, tiny_qwen3, train_tokenizer

    convs = [{"messages": demonstration(t), "tools": t.agent_tools()} for t in tasks]
    tokenizer = train_tokenizer(convs, 600)
    cfg = TinyConfig(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=2, intermediate_size=128, seed=0)
    model = tiny_qwen3(tokenizer, cfg)
    rows = []
    for c in convs:  # loss on what follows the opening: the agent's turns and the tool result
        ids = tokenizer.apply_chat_template(c["messages"], tools=c["tools"], tokenize=True, return_dict=False)
        opening = tokenizer.apply_chat_template(c["messages"][:2], tools=c["tools"], tokenize=True,
                                                add_generation_prompt=True, return_dict=False)
        rows.append((ids, [-100] * len(opening) + ids[len(opening):]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(240):
        ids, labels = rows[step % len(rows)]
        loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.1, loss.item()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_train_grpo_on_synthesized_tasks_with_llm_user_tools_and_judge(tmp_path: Path) -> None:
    runner = CliRunner()
    with FakeOpenAIServer(responder) as server:
        (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url, timeout_s=5.0))
        tasks_path = synth_tasks(tmp_path, server)
        tasks = read_jsonl(tasks_path, Task)
        assert len(tasks) == 3 and {t.world.kind for t in tasks} == {"simulated"}
        before = tiny_model_that_calls_a_tool(tasks, tmp_path / "tiny")
        server.reset_counts()

        result = runner.invoke(app, ["train", "grpo", "--tasks", str(tasks_path), "--model", str(tmp_path / "tiny"),
                                     "--config", str(tmp_path / "llm.yaml"), "--out", str(tmp_path / "grpo"),
                                     "--steps", "3", "--generations", "4", "--learning-rate", "1e-3",
                                     "--max-turns", "4", "--max-new-tokens", "64", "--temperature", "0.7",
                                     "--max-completion-length", "256"])
        assert result.exit_code == 0, result.output
        report = json.loads((tmp_path / "grpo" / "report.json").read_text())
        stats = report["rollouts"]
        assert report["steps"] == 3 and stats["episodes"] == 12 and not stats["unscored"], stats
        # the LLM judge graded the episodes (the rubrics have items with no programmatic check)
        assert stats["judge_calls"] > 0 and server.requests_by_model[fake.JUDGE] > 0
        # the LLM user answered the agent's plain text, or the agent only called tools: both roles were served
        assert stats["tool_calls"] > 0 and server.requests_by_model[fake.TOOL] > 0
        # M: repeated calls within a group were served from the mapping, without a model call
        assert stats["tool_cache_hits"] > 0, (stats, dict(server.requests_by_model))
        assert server.requests_by_model[fake.TOOL] < stats["tool_calls"] - stats["tool_cache_hits"] + 1
        assert stats["tool_model_calls"] + stats["tool_cache_hits"] <= stats["tool_calls"]
        # rewards vary within at least one group (GRPO has an advantage to follow)
        assert any(len(set(g["rewards"])) > 1 for g in stats["groups"]), stats["groups"]
        assert all(len(g["rewards"]) == 4 for g in stats["groups"])
        # the parameters changed
        from transformers import AutoModelForCausalLM

        after = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "grpo" / "model").named_parameters())
        assert any(not torch.equal(before[name], after[name].detach()) for name in before)

        # the trained model, evaluated in the same protocol with the same simulators and judge
        result = runner.invoke(app, ["rollout", "--tasks", str(tasks_path), "--policy", f"hf:{tmp_path / 'grpo' / 'model'}",
                                     "--out", str(tmp_path / "eval.jsonl"), "--config", str(tmp_path / "llm.yaml"),
                                     "--max-turns", "4"])
        assert result.exit_code == 0, result.output
        runs = read_jsonl(tmp_path / "eval.jsonl", Trajectory)
        assert len(runs) == 3 and all(r.result is not None or r.fault is not None for r in runs)
        assert not server.errors, server.errors[:3]


def test_a_failing_judge_or_simulator_makes_an_unscored_episode_with_the_chosen_reward(tmp_path: Path) -> None:
    """The judge's endpoint down, then the user's: no exception; the episode is unscored (its role named),
    and GRPO gets None under "drop" (TRL leaves it out of the baseline) or 0.0 under "zero"."""
    def broken(role: str):
        def respond(body: dict) -> object:
            if body.get("model") == role:
                raise RuntimeError("endpoint down")  # the fake answers 500 to every attempt
            return responder(body)
        return respond

    with FakeOpenAIServer(fake.responder) as server:
        (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url))
        tasks = read_jsonl(synth_tasks(tmp_path, server, n=1), Task)
    for role, policy_name, expected in ((fake.JUDGE, "oracle", "judge"), (fake.USER, "oracle", "user")):
        with FakeOpenAIServer(broken(role)) as server:
            (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url, max_retries=1))
            sims, judge = build_simulators(tmp_path / "llm.yaml", tmp_path / f"m-{expected}")
            policy = reference_policy(policy_name)
            traj = asyncio.run(play_scored(tasks[0], policy, RoutedUsers(sims), RoutedTools(sims), judge, seed=1,
                                           max_turns=6))
        assert traj.unscored and traj.fault.role == expected and traj.termination == "fault", traj.fault
        assert trainer_reward(traj, "drop") is None and trainer_reward(traj, "zero") == 0.0
    logged: dict[str, float] = {}
    rewards = episode_reward([[]] * 3, log_metric=logged.__setitem__, synthagent_reward=[None, 0.5, 1.0],
                             synthagent_unscored=["judge", "", ""])
    assert rewards == [None, 0.5, 1.0] and logged["synthagent/unscored"] == pytest.approx(1 / 3)
    assert logged["synthagent/unscored_judge"] == pytest.approx(1 / 3) and logged["synthagent/unscored_user"] == 0
