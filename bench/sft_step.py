"""SFT step time of `train tiny`: TRL's SFTTrainer loss, the model's own loss, and the recipe's trainer (the
output head on labelled positions only, `tiny.labelled_positions_loss`), side by side.

Each runs forward and backward (`training_step`, no optimizer step) on the same batches of gold episodes
(assistant-only loss, the recipe's tokenizer and model shape), alternating rounds so machine noise hits
both; prints the median seconds per step of each and their ratio. Needs the `train` extra.

Run: `python bench/sft_step.py [--threads 2] [--tasks 80] [--rounds 3] [--transfer]` (--transfer: the
ten-domain transfer attempt's domains, whose episodes are about twice as long as retail's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=80, help="gold episodes (batches of the recipe's SFT batch size)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transfer", action="store_true", help="episodes of the ten-domain transfer attempt")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import datasets
    import torch
    import transformers
    from trl import SFTConfig, SFTTrainer

    from synthagent.train.tiny import (
        TinyConfig,
        _common_args,
        conversations,
        make_tasks,
        plain_loss_sft_trainer,
        sft_dataset,
        tiny_qwen3,
        train_tokenizer,
    )

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    from synthagent.train.tiny import TRANSFER_HELDOUT_DOMAINS, TRANSFER_TRAIN_DOMAINS

    base = TinyConfig()
    if args.transfer:
        base = replace(base, domains=TRANSFER_TRAIN_DOMAINS, heldout_domains=TRANSFER_HELDOUT_DOMAINS, difficulties=(1,))
    cfg = replace(base, train_tasks=args.tasks, eval_tasks=0, eval_unseen_tasks=0)
    train, _ = make_tasks(cfg)
    convs = conversations(train)
    tokenizer = train_tokenizer(convs, cfg.vocab_size)
    data = sft_dataset(tokenizer, convs, cfg)
    out = Path(tempfile.mkdtemp(prefix="sft-step-"))
    sft_args = SFTConfig(**_common_args(SFTConfig, out, 0), per_device_train_batch_size=cfg.sft_batch_size,
                         max_length=cfg.sft_max_length)

    class ModelLossTrainer(SFTTrainer):
        """The model's own forward and loss (the recipe's trainer before the labelled-positions head)."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs, use_cache=False, num_items_in_batch=num_items_in_batch)
            return (outputs.loss, outputs) if return_outputs else outputs.loss

    trainers = {}
    for name, cls in (("trl", SFTTrainer), ("model", ModelLossTrainer), ("plain", plain_loss_sft_trainer())):
        trainer = cls(model=tiny_qwen3(tokenizer, cfg), args=sft_args, train_dataset=data, processing_class=tokenizer)
        trainer.current_gradient_accumulation_steps = 1  # set by train(); training_step divides by it
        trainer.model.train()
        trainers[name] = trainer
    batches = list(trainers["trl"].get_train_dataloader())
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            for batch in batches:
                start = time.perf_counter()
                trainer.training_step(trainer.model, batch)
                times[name].append(time.perf_counter() - start)
                trainer.model.zero_grad()
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    shape = tuple(batches[0]["input_ids"].shape)
    print(f"{len(batches)} batches (first {shape}), {args.rounds} rounds, {args.threads} threads")
    for name, median in medians.items():
        print(f"{name:>5}: median {median:.4f} s per step over {len(times[name])} steps")
    print(f"ratio trl / plain: {medians['trl'] / medians['plain']:.2f}; model / plain: "
          f"{medians['model'] / medians['plain']:.2f}")


if __name__ == "__main__":
    main()
