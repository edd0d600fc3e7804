"""`synthagent export`: SFT JSONL loadable by `datasets`, a TRL task set, and verl parquet that round-trips."""

import json

import pytest
import typer
from typer.testing import CliRunner

from synthagent.cli import app as main_app
from synthagent.exports.sft import gold_trajectories, sft_records
from synthagent.integrations.release_verl import read_verl_parquet
from synthagent.integrations.trl import EnvironmentSuite
from synthagent.spec.io import write_jsonl
from synthagent.train.cli import register

from testkit import make_task

runner = CliRunner()


def _app():
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def task_file(tmp_path):
    tasks = [make_task(d, s, level) for d in ("retail",) for s in range(3) for level in (1, 3)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, tasks)
    return tasks, path


def test_sft_export_is_openai_messages_loadable_by_datasets(tmp_path, task_file):
    datasets = pytest.importorskip("datasets")
    tasks, path = task_file
    out = tmp_path / "sft.jsonl"
    r = runner.invoke(_app(), ["export", "--format", "sft", "--tasks", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = datasets.load_dataset("json", data_files=str(out), split="train")
    assert len(data) == len(tasks)
    row = data[0]
    roles = [m["role"] for m in row["messages"]]
    assert roles[:2] == ["system", "user"] and "assistant" in roles and "tool" in roles
    calls = [c for m in row["messages"] if m["role"] == "assistant" and m.get("tool_calls") for c in m["tool_calls"]]
    assert calls and all(isinstance(json.loads(c["function"]["arguments"]), dict) for c in calls)
    tools = json.loads(row["tools"])
    assert {t["function"]["name"] for t in tools} == {t.name for t in tasks[0].tools}
    assert all(r == 1.0 for r in data["reward"])


def test_sft_ask_user_protocol_and_teacher_runs(tmp_path, task_file):
    tasks, path = task_file
    rows = sft_records(tasks, protocol="ask_user")
    names = {c["function"]["name"] for r in rows for m in r["messages"] for c in (m.get("tool_calls") or [])}
    assert "ask_user" in names
    assert all(m["role"] != "user" for r in rows for m in r["messages"][2:])
    runs = gold_trajectories(tasks)
    runs[0].result.reward = 0.5  # a teacher run below the bar is dropped
    assert len(sft_records(tasks, runs, min_reward=1.0)) == len(tasks) - 1
    runs_file = tmp_path / "runs.jsonl"
    write_jsonl(runs_file, runs[1:])
    out = tmp_path / "teacher.jsonl"
    r = runner.invoke(_app(), ["export", "--format", "sft", "--tasks", str(path), "--runs", str(runs_file),
                               "--protocol", "ask_user", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == len(tasks) - 1


def test_trl_export_rebuilds_the_environments(tmp_path, task_file):
    tasks, path = task_file
    out = tmp_path / "trl.jsonl"
    r = runner.invoke(_app(), ["export", "--format", "trl", "--tasks", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    suite = EnvironmentSuite.from_rows(rows)
    assert set(suite.factories()) == {row["environment"] for row in rows}
    env = suite.factories()[rows[0]["environment"]]()
    env.reset(**rows[0])
    assert env.task.id == rows[0]["task_id"] and rows[0]["prompt"][1]["content"] == env.task.instruction


def test_verl_export_round_trips_into_tasks(tmp_path, task_file):
    pytest.importorskip("pyarrow")
    tasks, path = task_file
    out = tmp_path / "train.parquet"
    r = runner.invoke(_app(), ["export", "--format", "verl", "--tasks", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    back = read_verl_parquet(out)
    assert [t.model_dump() for t in back] == [t.model_dump() for t in tasks]


def test_export_rejects_unknown_format(tmp_path, task_file):
    _, path = task_file
    r = runner.invoke(_app(), ["export", "--format", "csv", "--tasks", str(path), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--format" in r.output


def test_register_adds_commands_to_the_main_app():
    app = typer.Typer()
    register(app)
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == {"export", "train"}
    assert main_app is not None  # the lead mounts register(app) on synthagent.cli.app


def test_gold_trajectories_show_more_than_one_user_phrasing_unless_given_one_seed():
    """One seed for every episode words every reveal the same way; a model trained on that lost a third
    of its success on the other phrasings. Per-task seeds must vary the wording, reproducibly, and still
    be gold (score 1.0)."""
    tasks = [make_task("retail", s, 1) for s in range(12)]

    def reveal_openings(runs):
        return {m.content.split(" ")[0] for t in runs for m in t.messages[2:] if m.role == "user"
                and m.content and "go ahead" not in m.content}

    fixed = gold_trajectories(tasks, seed_per_task=False)
    varied = gold_trajectories(tasks)
    assert len(reveal_openings(fixed)) == 1
    assert len(reveal_openings(varied)) >= 3
    assert [t.messages for t in varied] == [t.messages for t in gold_trajectories(tasks)]
    assert all(t.result.reward == 1.0 for t in varied)


def test_train_tiny_cli_runs_the_measured_recipe_unless_told_otherwise(tmp_path, monkeypatch):
    """Options left out keep TinyConfig's values (the recipe docs/training.md measured); given ones win."""
    import synthagent.train.tiny as tiny

    seen = []

    def fake_run(cfg, out, log=print):
        seen.append(cfg)
        return tiny.TinyReport(config={}, tasks={})

    monkeypatch.setattr(tiny, "run_tiny", fake_run)
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    recipe = tiny.TinyConfig()
    assert (seen[0].train_tasks, seen[0].eval_tasks, seen[0].grpo_steps, seen[0].sft_epochs) == (
        recipe.train_tasks, recipe.eval_tasks, recipe.grpo_steps, recipe.sft_epochs)
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "b"), "--grpo-steps", "0",
                               "--train-tasks", "50"])
    assert r.exit_code == 0, r.output
    assert (seen[1].train_tasks, seen[1].grpo_steps, seen[1].eval_tasks) == (50, 0, recipe.eval_tasks)
    assert (seen[1].vocab_size, seen[1].tokenizer_max_token_length) == (recipe.vocab_size, None)
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "c"), "--vocab-size", "4096",
                               "--tokenizer-max-token-length", "16"])
    assert r.exit_code == 0, r.output
    assert (seen[2].vocab_size, seen[2].tokenizer_max_token_length) == (4096, 16)
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "d"), "--sft-rename", "0.8",
                               "--sft-rename-scope", "all"])
    assert r.exit_code == 0, r.output
    assert (seen[3].sft_rename, seen[3].sft_rename_scope, seen[0].sft_rename_scope) == (0.8, "all", "names")
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "e"), "--sft-rename-scope", "words"])
    assert r.exit_code != 0 and "--sft-rename-scope" in r.output and len(seen) == 4
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "f"), "--init-from", str(tmp_path / "none")])
    assert r.exit_code != 0 and "--init-from" in r.output and "config.json" in r.output and len(seen) == 4
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "g"), "--init-from", str(tmp_path / "ckpt"),
                               "--sft-lr", "0.001", "--eval-unseen-tasks", "100", "--sft-rename-scope", "swap",
                               "--sft-foreign-tools", "3", "--sft-drop-descriptions", "0.5",
                               "--sft-call-slips", "0.5", "--sft-made-up-prefixes", "0.25"])
    assert r.exit_code == 0, r.output
    assert (seen[4].init_from, seen[4].sft_lr, seen[4].eval_unseen_tasks, seen[4].sft_rename_scope) == (
        str(tmp_path / "ckpt"), 0.001, 100, "swap")
    assert (seen[4].sft_foreign_tools, seen[4].sft_drop_descriptions) == (3, 0.5)
    assert (seen[4].sft_call_slips, seen[4].sft_made_up_prefixes) == (0.5, 0.25)
    assert (seen[0].init_from, seen[0].sft_lr, seen[0].sft_foreign_tools, seen[0].sft_drop_descriptions) == (
        "", recipe.sft_lr, 0, 0.0)
    assert (seen[0].sft_call_slips, seen[0].sft_made_up_prefixes) == (0.0, 0.0)


def test_train_tiny_continues_from_a_checkpoint_with_its_tokenizer_and_no_warm_up(tmp_path):
    """`init_from`: the run takes the saved tokenizer (here of another vocabulary size than the config's) and
    weights, skips the copy warm-up, and trains them further."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("trl")
    from dataclasses import replace

    from synthagent.train.tiny import (TinyConfig, conversations, load_checkpoint, make_splits, run_tiny, tiny_qwen3,
                                       train_tokenizer)

    cfg = replace(TinyConfig.quick(), train_tasks=8, eval_tasks=1, eval_before_sft=False, grpo_steps=0, num_layers=1,
                  hidden_size=32, intermediate_size=64, sft_epochs=2.0, eval_max_new_tokens=8, eval_max_turns=2)
    tokenizer = train_tokenizer(conversations(make_splits(cfg).train), 700)
    assert len(tokenizer) != len(train_tokenizer(conversations(make_splits(cfg).train), cfg.vocab_size))
    model = tiny_qwen3(tokenizer, cfg)
    model.save_pretrained(tmp_path / "start")
    tokenizer.save_pretrained(tmp_path / "start")
    report = run_tiny(replace(cfg, init_from=str(tmp_path / "start")), tmp_path / "run", log=lambda line: None)
    assert report.vocab == len(tokenizer) and report.copy_warmup == {} and report.sft
    assert report.config["init_from"] == str(tmp_path / "start")
    after, after_tokenizer = load_checkpoint(tmp_path / "run" / "model-sft")
    assert after_tokenizer.get_vocab() == tokenizer.get_vocab()
    start = model.state_dict()
    assert any(not torch.equal(v, start[k]) for k, v in after.state_dict().items() if k in start)


def _configs_seen(monkeypatch) -> list:
    """The TinyConfigs `train tiny` would run, with the run itself replaced by a no-op."""
    from synthagent.train import tiny

    seen: list = []
    monkeypatch.setattr(tiny, "run_tiny", lambda cfg, out, log=print: seen.append(cfg) or tiny.TinyReport(config={}, tasks={}))
    return seen


def test_train_tiny_takes_chimera_domains_and_names_a_bad_one(tmp_path, monkeypatch):
    """`--domains retail+hotel` trains on a chimera (worlds/chimera.py); a pair that does not exist is refused."""
    from synthagent.train import tiny

    seen, runner = _configs_seen(monkeypatch), CliRunner()
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "a"), "--domains", "retail,bank+hotel",
                               "--tokenizer-spell-prefixes"])
    assert r.exit_code == 0, r.output
    assert seen[0].domains == ("retail", "bank+hotel") and seen[0].tokenizer_spell_prefixes is True
    assert tiny.TinyConfig().tokenizer_spell_prefixes is False
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "b"), "--domains", "retail,bank+nowhere"])
    assert r.exit_code != 0 and "bank+nowhere" in r.output and "chimera" in r.output and len(seen) == 1


def test_train_tiny_takes_variant_domains_and_constrained_evaluation(tmp_path, monkeypatch):
    """`--domains retail~email` trains on an identity-field variant (worlds/variants.py), and
    `--eval-constrained-calls` reaches the config; a field the customer does not have is refused."""
    from synthagent.train import tiny

    seen, runner = _configs_seen(monkeypatch), CliRunner()
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "a"), "--domains", "retail,retail~email+hotel",
                               "--eval-constrained-calls"])
    assert r.exit_code == 0, r.output
    assert seen[0].domains == ("retail", "retail~email+hotel") and seen[0].eval_constrained_calls is True
    assert tiny.TinyConfig().eval_constrained_calls is False
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "b"), "--domains", "retail~shoe_size"])
    assert r.exit_code != 0 and "retail~shoe_size" in r.output and "A~FIELD" in r.output and len(seen) == 1


def test_train_tiny_expands_a_range_of_generated_domains_and_refuses_a_bad_one(tmp_path, monkeypatch):
    """`--domains retail,gen-0..2` trains on three generated domains (worlds/generated.py) beside retail."""
    seen, runner = _configs_seen(monkeypatch), CliRunner()
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "a"), "--domains", "retail,gen-0..2",
                               "--heldout-domains", "food_delivery"])
    assert r.exit_code == 0, r.output
    assert seen[0].domains == ("retail", "gen-0", "gen-1", "gen-2")
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path / "b"), "--domains", "retail,gen-4..1"])
    assert r.exit_code != 0 and "gen-4..1" in r.output and len(seen) == 1
