"""The transfer recipe's pieces (issue 20): splits with unseen domains, fully specified tasks, noisy
demonstrations, the outcome reward, the GRPO curriculum and per-group curves, intervals, the curves page and the
ablation's input checks. The recipe end to end is `test_trl_e2e.py` (quick config) and bench/claims.py."""

import json

import pytest
from typer.testing import CliRunner

from synthagent.exports.sft import gold_trajectories
from synthagent.reward.scorer import reward_config, score
from synthagent.train.evaluation import mean_interval, paired_difference, wilson
from synthagent.train.grpo_phase import RolloutLog, next_pool, step_curves
from synthagent.train.splits import fully_specified, has_confirmation, make_splits, unconfirmed

runner = CliRunner()


def _app():
    from synthagent.cli import app

    return app


@pytest.fixture(scope="module")
def splits():
    return make_splits(("retail", "bank"), ("hotel",), (1, 2), 24, 8, 6, seed=0)


def test_held_out_domains_are_unseen_and_tasks_are_disjoint(splits):
    assert len(splits.train) == 24 and len(splits.held_seen) == 8 and len(splits.held_unseen) == 6
    assert {t.domain for t in splits.train} == {"retail", "bank"} == {t.domain for t in splits.held_seen}
    assert {t.domain for t in splits.held_unseen} == {"hotel"}
    assert {t.difficulty for t in splits.train} == {1, 2}
    ids = [{t.id for t in s} for s in (splits.train, splits.held_seen, splits.held_unseen)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    with pytest.raises(ValueError, match="hotel.*also training domains"):
        make_splits(("retail", "hotel"), ("hotel",), (1,), 2, 2, 2, seed=0)


def test_a_fully_specified_task_has_no_gap_and_its_gold_plan_still_succeeds(splits):
    task = next(t for t in splits.train if t.private_info)
    full = fully_specified(task)
    assert full.instruction == task.full_instruction != task.instruction
    assert all(slot.value in full.instruction for slot in task.private_info)  # every hidden detail is given
    assert not any(slot.value in task.instruction for slot in task.private_info if slot.required)
    assert full.rubric.interactions == [] and task.rubric.interactions
    assert not any(a.kind == "ask" for a in full.gold)
    traj = gold_trajectories([full])[0]
    assert traj.result.success and traj.counters.tool_calls > 0


def test_noisy_demonstrations_skip_the_confirmation_and_fail_the_rubric_but_not_the_outcome(splits):
    task = next(t for t in splits.train if has_confirmation(t))
    noisy = gold_trajectories([unconfirmed(task)])[0]
    assert noisy.task_id == task.id
    paper, outcome = score(task, noisy, reward_config("paper")), score(task, noisy, reward_config("outcome"))
    assert paper.reward == 0.0 and not paper.success  # a change the user did not confirm: the forbidden gate
    assert outcome.reward == 1.0  # the final state is right, which is all an outcome reward sees
    clean = gold_trajectories([task])[0]
    assert score(task, clean, reward_config("outcome")).reward == 1.0 and clean.result.success


def test_conversations_make_the_asked_share_of_changes_unconfirmed(splits):
    from synthagent.train.tiny import conversations

    changes = [t for t in splits.train if has_confirmation(t)]
    all_noisy = conversations(changes, seed=0, unconfirmed=1.0)
    clean = conversations(changes, seed=0)

    def asks_to_confirm(row):
        return sum("ask_user" in json.dumps(m.get("tool_calls", "")) for m in row["messages"] if m["role"] == "assistant")

    assert all(asks_to_confirm(n) < asks_to_confirm(c) for n, c in zip(all_noisy, clean))
    half = conversations(changes, seed=0, unconfirmed=0.5)
    assert half == conversations(changes, seed=0, unconfirmed=0.5)  # seeded
    noisy = sum(asks_to_confirm(h) < asks_to_confirm(c) for h, c in zip(half, clean))
    assert 0 < noisy < len(changes)


def _log(groups):
    log = RolloutLog(batch=sum(len(g) for _, g in groups))
    for task_id, outcomes in groups:
        for success in outcomes:
            log.rows.append((task_id, "retail", float(success), bool(success)))
    return log


def test_the_curriculum_drops_zero_spread_tasks_and_orders_the_rest_by_pass_rate(splits):
    pool = splits.train[:5]
    a, b, c, d, fresh = pool
    log = _log([(a.id, [1, 1, 1, 1]), (b.id, [0, 0, 0, 0]), (c.id, [1, 0, 0, 0]), (d.id, [1, 1, 0, 0])])
    assert [t.id for t in next_pool(log, pool)] == [d.id, c.id, fresh.id]
    curves = step_curves(log)
    assert curves["zero_spread_share"] == [0.5] and curves["success"] == [7 / 16] == curves["reward"]
    # group stds 0, 0, √3/4, ½: mean std and mean variance
    assert curves["group_std"] == [round((3 ** 0.5 / 4 + 0.5) / 4, 4)]
    assert curves["group_variance"] == [round((3 / 16 + 1 / 4) / 4, 5)]


def test_intervals():
    low, high = wilson(150, 300)
    assert low < 0.5 < high and round(high - low, 2) == 0.11
    assert wilson(0, 300)[0] == 0.0 and wilson(0, 300)[1] > 0
    diff = paired_difference([1, 1, 0, 1], [1, 0, 0, 0])
    assert diff["difference"] == 0.5 and diff["gained"] == 2 and diff["lost"] == 0
    assert paired_difference([1] * 10, [1] * 10)["interval"] == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference([1], [1, 0])
    m = mean_interval([0.1, 0.2, 0.3])
    assert m["mean"] == 0.2 and m["interval"][0] < 0.2 < m["interval"][1]
    assert mean_interval([0.4])["interval"] is None


def test_the_curves_page_plots_every_run_and_escapes_labels(tmp_path):
    from synthagent.train.curves import write_page

    run = {"config": {"heldout_domains": ["hotel"]},
           "grpo": {"curves": {"reward": [0.2, 0.5], "success": [0.0, 0.5], "group_std": [0.3, 0.2],
                               "zero_spread_share": [0.5, 0.25]}},
           "after_sft": {"success_rate": 0.5, "interval": [0.4, 0.6], "tasks": 300, "per_domain": {"retail/d1": 0.5}},
           "unseen_after_sft": {"success_rate": 0.25, "interval": [0.2, 0.3], "tasks": 300,
                                "per_domain": {"hotel/d1": 0.25}}}
    write_page(tmp_path / "p.html", "runs", [("<arm>", run), ("b", run)])
    html = (tmp_path / "p.html").read_text()
    assert html.count("<polyline") == 8  # four curves, two runs
    assert "&lt;arm&gt;" in html and "<arm>" not in html
    assert "hotel/d1" in html and "0.250 [0.200, 0.300] (n=300)" in html
    assert "constrained calls" not in html
    held = {**run, "config": {"heldout_domains": ["hotel"], "eval_constrained_calls": True}}
    write_page(tmp_path / "q.html", "runs", [("held", held), ("free", run)])
    html = (tmp_path / "q.html").read_text()
    assert "<td>held (constrained calls)</td>" in html and "<td>free</td>" in html
    assert "How far held-out episodes got" not in html  # these evaluations have no steps


def test_the_curves_page_shows_how_far_held_out_episodes_got(tmp_path):
    from synthagent.train.curves import write_page

    steps = {"called_a_tool": 0.9, "verified": 0.5, "read_every_record": 0.25, "made_every_change": 0.125,
             "succeeded": 0.05}
    run = {"config": {"heldout_domains": ["food_delivery"]},
           "unseen_after_sft": {"success_rate": 0.05, "interval": [0.0, 0.1], "tasks": 100, "steps": steps,
                                "per_kind": {"change": {"tasks": 60, "success_rate": 0.0},
                                             "lookup": {"tasks": 40, "success_rate": 0.125}}}}
    write_page(tmp_path / "p.html", "runs", [("r", run)])
    html = (tmp_path / "p.html").read_text()
    assert "How far held-out episodes got" in html and "<td>r, unseen, after SFT</td>" in html
    assert "<td>0.50</td><td>0.25</td><td>0.12</td>" in html and "lookup 0.12 of 40" in html


def test_a_standalone_chart_lists_each_series_in_its_colour_and_grows_to_fit():
    from synthagent.report.markup import policy_color
    from synthagent.train.curves import line_chart

    series = [("<seed 0>", [0.1, 0.4]), ("seed 1", [0.2, 0.3]), ("seed 2", [])]
    plain, keyed = line_chart(series, "t", height=100), line_chart(series, "t", height=100, legend=True)
    assert "■" not in plain and 'height="100"' in plain
    assert 'height="148"' in keyed  # 100 + 3 labels × 14 + 6
    for index, label in enumerate(["&lt;seed 0&gt;", "seed 1", "seed 2"]):
        assert f'fill="{policy_color(index)}">■ {label}</text>' in keyed
    assert "<seed 0>" not in keyed and keyed.count("<polyline") == 2


def test_ablation_refuses_a_folder_without_a_report_and_unknown_arms(tmp_path):
    r = runner.invoke(_app(), ["train", "ablation", "--run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no report.json" in r.output
    (tmp_path / "report.json").write_text(json.dumps({"config": {"seed": 0, "colour": 1}}))
    r = runner.invoke(_app(), ["train", "ablation", "--run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "colour" in r.output
    (tmp_path / "report.json").write_text(json.dumps({"config": {"seed": 0}, "after_sft": {"outcomes": [1]}}))
    r = runner.invoke(_app(), ["train", "ablation", "--run", str(tmp_path), "--arms", "under-magic"])
    assert r.exit_code != 0 and "under-magic" in r.output


def test_train_tiny_refuses_a_held_out_domain_that_is_trained_or_unknown(tmp_path):
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path), "--domains", "retail,hotel",
                               "--heldout-domains", "hotel", "--quick"])
    assert r.exit_code != 0 and "also training domains" in r.output
    r = runner.invoke(_app(), ["train", "tiny", "--out", str(tmp_path), "--heldout-domains", "atlantis", "--quick"])
    assert r.exit_code != 0 and "atlantis" in r.output
    assert not (tmp_path / "report.json").exists()


def test_the_tokenizer_splits_an_unseen_domain_s_words_instead_of_special_casing_them(splits):
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    from synthagent.train.tiny import conversations, train_tokenizer

    tokenizer = train_tokenizer(conversations(splits.train), 2048)
    vocab = tokenizer.get_vocab()
    unseen = next(t for t in splits.held_unseen).tools[0].name  # e.g. verify_guest: hotel only
    assert unseen not in vocab and "Ġ" + unseen not in vocab
    pieces = tokenizer.tokenize(unseen)
    assert len(pieces) > 1 and tokenizer.convert_tokens_to_string(pieces) == unseen
    assert tokenizer.unk_token is None  # byte-level: nothing is unknown


def test_ablation_arms_start_from_the_same_checkpoint_and_are_measured_alike(tmp_path):
    """A run folder made by hand (an untrained tiny model as `model-sft`), two one-step arms: each arm loads the
    checkpoint afresh, trains on its form of the tasks under its reward, and is evaluated by the paper's measure
    on the same held-out tasks, paired with the SFT outcomes."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("trl")
    from dataclasses import asdict, replace

    from synthagent.train.ablation import AblationRun, run_ablation
    from synthagent.train.tiny import TinyConfig, conversations, make_splits as tiny_splits, tiny_qwen3, train_tokenizer

    cfg = replace(TinyConfig.quick_transfer(), train_tasks=8, eval_tasks=2, eval_unseen_tasks=1, grpo_steps=1,
                  grpo_rounds=1, grpo_tasks=2, grpo_generations=2, num_layers=1, hidden_size=32, intermediate_size=64,
                  grpo_max_completion_length=64, grpo_max_tool_calls=2, eval_max_new_tokens=8, eval_max_turns=2)
    run = tmp_path / "run"
    tokenizer = train_tokenizer(conversations(tiny_splits(cfg).train), cfg.vocab_size)
    model = tiny_qwen3(tokenizer, cfg)
    model.save_pretrained(run / "model-sft")
    tokenizer.save_pretrained(run / "model-sft")
    (run / "report.json").write_text(json.dumps({"config": asdict(cfg), "after_sft": {"outcomes": [1, 0]}}))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    summary = run_ablation(AblationRun(run=run, out=tmp_path / "abl", arms=("full-rubric", "under-outcome"),
                                       eval_tasks=2), log=lambda line: None)
    assert set(summary["arms"]) == {"full-rubric", "under-outcome"} and summary["eval_tasks"] == 2
    for name, arm in summary["arms"].items():
        assert arm["steps"] == 1 and 0.0 <= arm["zero_spread_share"] <= 1.0 and arm["group_variance"] >= 0.0
        # an untrained model fails both tasks, which the SFT outcomes say one of was solved: lost 1, gained 0
        assert arm["gain"]["tasks"] == 2 and arm["gain"]["lost"] == 1 and arm["gain"]["difference"] == -0.5
        detail = json.loads((tmp_path / "abl" / f"{name}.json").read_text())
        assert detail["config"]["grpo_spec"] == name.split("-")[0]
        assert detail["grpo"]["reward_preset"] == {"rubric": "paper", "outcome": "outcome"}[name.split("-")[1]]
    assert (tmp_path / "abl" / "ablation.html").read_text().count("<h2>") >= 2
    # a run whose SFT evaluation is not written yet: the ablation measures the checkpoint itself on the same tasks
    (run / "report.json").write_text(json.dumps({"config": asdict(cfg)}))
    alone = run_ablation(AblationRun(run=run, out=tmp_path / "abl2", arms=(), eval_tasks=2), log=lambda line: None)
    assert alone["sft"]["tasks"] == 2 and alone["sft"]["success_rate"] == 0.0 and alone["arms"] == {}
    # every evaluation places its episodes on their plans (train/funnel.py)
    assert alone["sft"]["steps"]["succeeded"] == 0.0 and sum(v["tasks"] for v in alone["sft"]["per_kind"].values()) == 2

    from synthagent.train.tiny import load_checkpoint

    saved, _ = load_checkpoint(run / "model-sft")  # the arms trained copies: the checkpoint on disk is as saved
    assert all(torch.equal(v, before[k]) for k, v in saved.state_dict().items() if k in before)


def test_the_tokenizer_sample_reaches_every_training_domain():
    """Training tasks rotate through their domains, so a tokenizer sample of every k-th conversation aliased
    with the rotation (here four domains at stride 2: two of them), and the others' policy and tool list
    stayed in byte pieces: their episodes came out 5-6 times as long as retail's. With every domain in the
    sample they are within 2 times of each other."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    from synthagent.train.tiny import conversations, tokenized, train_tokenizer

    tasks = make_splits(("retail", "hotel", "bank", "insurance"), (), (1,), 16, 0, 0, seed=0).train
    rows = conversations(tasks)
    assert len(rows) == len(tasks) and [t.domain for t in tasks[:4]] == ["retail", "hotel", "bank", "insurance"]
    tokenizer = train_tokenizer(rows, 4096, sample=8)
    length: dict[str, list[int]] = {}
    for task, ids in zip(tasks, tokenized(tokenizer, rows, 4096)["input_ids"]):
        length.setdefault(task.domain, []).append(len(ids))
    mean = {d: sum(v) / len(v) for d, v in length.items()}
    assert max(mean.values()) < 2 * min(mean.values()), mean


def test_a_capped_tokenizer_has_no_merged_token_longer_than_the_cap():
    """`max_token_length` stops merges from folding a whole policy or tool list into a few long tokens (the
    reason an uncapped model never reads its prompt; docs/training.md, "Why nothing transferred")."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    from synthagent.train.tiny import MARKUP_TOKENS, SPECIAL_TOKENS, conversations, tokenized, train_tokenizer

    rows = conversations(make_splits(("retail",), (), (1,), 8, 0, 0, seed=0).train)
    uncapped, capped = train_tokenizer(rows, 2048), train_tokenizer(rows, 2048, max_token_length=8)
    added = set(SPECIAL_TOKENS) | set(MARKUP_TOKENS)
    assert max(len(t) for t in uncapped.get_vocab() if t not in added) > 8
    assert max(len(t) for t in capped.get_vocab() if t not in added) <= 8
    short, long_ = (sum(map(len, tokenized(t, rows, 8192)["input_ids"])) for t in (uncapped, capped))
    assert long_ > short


def test_a_spelling_tokenizer_writes_seen_and_unseen_id_prefixes_as_the_same_kind_of_tokens():
    """`spell_prefixes`: a training prefix is no longer one merged token (`CU-`) while an unseen one is byte
    pieces (`D`, `B-`); both are a letter token per letter and a hyphen, so copying either is the same skill."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    from synthagent.train.tiny import conversations, train_tokenizer

    rows = conversations(make_splits(("retail",), (), (1,), 8, 0, 0, seed=0).train)
    merged, spelt = train_tokenizer(rows, 2048), train_tokenizer(rows, 2048, spell_prefixes=True)

    def pieces(tok, text):
        return [tok.decode([i]) for i in tok(text)["input_ids"]]

    seen, unseen = "order CU-123456 now", "order DB-123456 now"
    assert "CU-" in pieces(merged, seen) and "CU-" not in pieces(merged, unseen)  # the old way: one token if seen
    for text, letters in ((seen, ["C", "U", "-"]), (unseen, ["D", "B", "-"])):
        got = pieces(spelt, text)
        at = got.index(letters[0])
        assert got[at:at + 4] == [*letters, "123"], got
    assert pieces(spelt, "my ZIP code") == pieces(merged, "my ZIP code")  # words without a hyphen are untouched
