"""End to end on CPU, no network: a tokenizer trained here, a random-init tiny Qwen3, SFT on gold
trajectories, then GRPO steps in TRL with our environment (tools + ask_user, rubric reward).

Runs when torch, transformers, trl and datasets are installed (the `train` extra, which CI installs).
"""

import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("trl")
pytest.importorskip("datasets")

from synthagent.train.tiny import (  # noqa: E402 (after the importorskip above)
    TinyConfig,
    conversations,
    copy_batch,
    evaluate,
    make_tasks,
    parameter_count,
    plain_loss_sft_trainer,
    run_copy_warmup,
    run_grpo,
    run_sft,
    tiny_qwen3,
    train_tokenizer,
)


def test_sft_then_grpo_with_the_environment(tmp_path):
    import datasets

    datasets.disable_progress_bars()
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    cfg = TinyConfig.quick()
    train, held = make_tasks(cfg)
    assert len(train) == cfg.train_tasks and not {t.id for t in train} & {t.id for t in held}
    convs = conversations(train)
    tokenizer = train_tokenizer(convs, cfg.vocab_size)
    assert tokenizer.chat_template and "<tool_call>" in tokenizer.get_vocab()
    model = tiny_qwen3(tokenizer, cfg)
    assert type(model).__name__ == "Qwen3ForCausalLM" and parameter_count(model) < 2_000_000

    initial = model.model.embed_tokens.weight.detach().clone()
    warmup = run_copy_warmup(model, tokenizer, cfg)
    assert warmup["steps"] == cfg.copy_warmup_steps and 0.0 < warmup["final_loss"] < 20.0, warmup
    assert not torch.equal(initial, model.model.embed_tokens.weight.detach())  # the warm-up trained the model

    sft = run_sft(model, tokenizer, convs, cfg, tmp_path)
    assert sft["final_loss"] < sft["first_loss"] / 2, sft

    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    grpo = run_grpo(model, tokenizer, train[: cfg.grpo_tasks], cfg, tmp_path)
    assert grpo["steps"] == cfg.grpo_steps
    assert sum(grpo["tool_calls_per_rollout"]) > 0, grpo  # the model called the environment's tools
    episodes = grpo["last_episodes"]
    assert episodes["scored"] > 0 and episodes["tool_calls"] > 0, grpo  # get_reward() ran on real episodes
    assert len(grpo["reward_per_step"]) == cfg.grpo_steps
    assert all(0.0 <= r <= 1.0 for r in episodes["rewards"] + grpo["reward_per_step"])
    changed = [name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])]
    # GRPO moves the weights exactly when some group's rewards differ (zero spread, zero advantage). A minute of
    # SFT rarely earns grounded reward, so this run may have no signal; the update path with a guaranteed
    # spread is tested through TRL's GRPOTrainer in test_trl_grpo.py.
    assert len(grpo["zero_spread_share_per_step"]) == cfg.grpo_steps
    spread = grpo["steps_with_spread"]
    assert bool(changed) == (spread > 0), (spread, changed[:3])

    report = evaluate(model, tokenizer, held[:2], cfg)  # the trained model plays our runtime
    assert report["tasks"] == 2 and 0.0 <= report["mean_reward"] <= 1.0


def test_copy_batch_is_a_sequence_then_its_repeat_with_the_loss_on_the_repeat():
    generator = torch.Generator().manual_seed(0)
    ids, labels = copy_batch(500, 4, 16, generator)
    assert ids.shape == labels.shape == (4, 32)
    assert torch.equal(ids[:, :16], ids[:, 16:])  # the second half repeats the first
    assert (labels[:, :16] == -100).all() and torch.equal(labels[:, 16:], ids[:, 16:])
    assert int(ids.min()) >= 3 and int(ids.max()) < 500  # no special tokens
    assert not torch.equal(ids[0], ids[1])  # each row its own random sequence


def _word_tokenizer(size: int = 64):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(size)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t0")),
                                   eos_token="t2", pad_token="t0")


def test_copy_warmup_stops_once_the_mean_loss_is_below_the_threshold():
    from dataclasses import replace

    tokenizer = _word_tokenizer()
    cfg = replace(TinyConfig.quick(), copy_warmup_steps=40, num_layers=1, hidden_size=32, intermediate_size=64)
    # ln 64 ≈ 4.2: a threshold above it stops after the first full 10-step window, one below 0 never
    early = replace(cfg, copy_warmup_stop_loss=50.0)
    stopped = run_copy_warmup(tiny_qwen3(tokenizer, early), tokenizer, early)
    full = run_copy_warmup(tiny_qwen3(tokenizer, cfg), tokenizer, replace(cfg, copy_warmup_stop_loss=-1.0))
    assert stopped["steps"] == 10 and full["steps"] == 40


def test_an_exact_copy_warmup_is_redone_from_the_initial_weights_on_other_sequences():
    from dataclasses import replace

    tokenizer = _word_tokenizer()
    cfg = replace(TinyConfig.quick(), copy_warmup_steps=15, num_layers=1, hidden_size=32, intermediate_size=64,
                  copy_warmup_retries=2)
    # a threshold above any loss counts every warm-up as exact: all retries run, and the report says so
    redone = replace(cfg, copy_warmup_exact_loss=100.0)
    model = tiny_qwen3(tokenizer, redone)
    result = run_copy_warmup(model, tokenizer, redone)
    assert result["data_seed"] == cfg.seed + 2000
    assert [a["data_seed"] for a in result["redone_after"]] == [cfg.seed, cfg.seed + 1000]
    # the last attempt started from the initial weights: it equals a fresh model's warm-up on those sequences
    fresh = tiny_qwen3(tokenizer, redone)
    alone = run_copy_warmup(fresh, tokenizer, replace(cfg, seed=cfg.seed + 2000, copy_warmup_exact_loss=None))
    assert alone["final_loss"] == result["final_loss"] and alone["first_loss"] == result["first_loss"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    # a threshold below any loss never redoes it
    once = run_copy_warmup(tiny_qwen3(tokenizer, cfg), tokenizer, replace(cfg, copy_warmup_exact_loss=0.0))
    assert "redone_after" not in once and once["data_seed"] == cfg.seed


def test_the_plain_loss_sft_trainer_computes_trl_s_loss_and_gradients(tmp_path):
    """The recipe's SFT trainer swaps TRL's fused-head loss for the model's own cross-entropy (faster on a
    CPU): same loss and same gradients on a batch of gold episodes with the assistant-only mask."""
    from dataclasses import replace

    from trl import SFTConfig, SFTTrainer

    from synthagent.train.tiny import _common_args, sft_dataset

    cfg = replace(TinyConfig.quick(), train_tasks=8)
    train, _ = make_tasks(cfg)
    convs = conversations(train)
    tokenizer = train_tokenizer(convs, cfg.vocab_size)
    data = sft_dataset(tokenizer, convs, cfg)
    args = SFTConfig(**_common_args(SFTConfig, tmp_path, 0), per_device_train_batch_size=4, max_length=cfg.sft_max_length)

    def loss_and_grads(trainer_class):
        model = tiny_qwen3(tokenizer, cfg)  # same seed: same initial weights
        trainer = trainer_class(model=model, args=args, train_dataset=data, processing_class=tokenizer)
        batch = next(iter(trainer.get_train_dataloader()))
        assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # the mask is in play
        loss = trainer.compute_loss(model, batch, num_items_in_batch=(batch["labels"][:, 1:] != -100).sum())
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters()]

    trl_loss, trl_grads = loss_and_grads(SFTTrainer)
    plain_loss, plain_grads = loss_and_grads(plain_loss_sft_trainer())
    assert plain_loss == pytest.approx(trl_loss, rel=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(trl_grads, plain_grads))
