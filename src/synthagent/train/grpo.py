"""`synthagent train grpo`: the paper's loop on one machine with TRL's GRPOTrainer.

Tasks of any world kind (teacher-made or release-imported ones played by the LLM user and the LLM mock
tools with their shared mapping M; procedural, τ² and reasoning ones by their own simulators), plus an
optional reasoning-gym mix, are rolled out in the runtime's text protocol (`integrations.trl.rollouts`)
by the model being trained, scored by the rubric scorer with the LLM judge, and the rewards drive GRPO.
The user, tool and judge roles come from one LLM config (`rollout.policies.build_simulators`), exactly as
`synthagent rollout --config` builds them, so `synthagent rollout --policy hf:OUT/model` afterwards
evaluates the trained model in the same protocol with the same simulators.

Defaults follow the paper where it states them (clip 0.2/0.28, up to 16 turns, no KL term, no SFT) and
are labelled as ours otherwise (see `GRPORunConfig`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synthagent.spec.models import Task


@dataclass
class GRPORunConfig:
    tasks: Path
    model: Path
    config: Path
    out: Path = Path("grpo-out")
    reasoning_mix: str | None = None  # "NAME[,NAME…]:N", e.g. "basic_arithmetic,chain_sum:200"
    steps: int = 10  # ours: a smoke-sized default; the paper trained for epochs over ~19k tasks
    generations: int = 16  # the paper's group size
    prompts_per_step: int = 1  # ours (the paper: 128 prompts a step on a cluster)
    learning_rate: float = 1e-6  # ours
    temperature: float = 1.0
    max_turns: int = 16  # the paper's
    max_completion_length: int = 13312  # the paper's response budget (~13k tokens), model and environment together
    max_new_tokens: int = 1024  # ours: one assistant turn
    fault_policy: str = "drop"
    concurrency: int = 64  # episodes played at once (their simulator calls overlap)
    seed: int = 0

    def validate(self) -> None:
        if self.steps < 1 or self.generations < 2 or self.prompts_per_step < 1:
            raise ValueError("steps ≥ 1, generations ≥ 2 (GRPO compares rollouts within a group), prompts_per_step ≥ 1")
        if self.fault_policy not in ("drop", "zero"):
            raise ValueError(f"fault_policy: expected drop or zero, got {self.fault_policy!r}")


def parse_reasoning_mix(spec: str) -> tuple[list[str], int]:
    """"NAME[,NAME…]:N" → (dataset names, N problems in all)."""
    names, sep, count = spec.rpartition(":")
    if not sep or not names or not count.isdigit() or int(count) < 1:
        raise ValueError(f"--reasoning-mix: expected NAME[,NAME…]:N (e.g. basic_arithmetic,chain_sum:200), got {spec!r}")
    return [n.strip() for n in names.split(",") if n.strip()], int(count)


def mixed_tasks(tasks: list[Task], reasoning_mix: str | None, seed: int) -> list[Task]:
    if not reasoning_mix:
        return list(tasks)
    from synthagent.integrations.reasoning_gym import reasoning_tasks

    names, n = parse_reasoning_mix(reasoning_mix)
    return list(tasks) + reasoning_tasks(names, n, seed=seed)


def grpo_args(cfg: GRPORunConfig, use_cpu: bool) -> Any:
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(cfg.out / "trainer"), report_to="none", save_strategy="no", use_cpu=use_cpu,
                      seed=cfg.seed, data_seed=cfg.seed, dataloader_num_workers=0, disable_tqdm=True,
                      bf16=False, fp16=False, max_steps=cfg.steps, learning_rate=cfg.learning_rate,
                      lr_scheduler_type="constant", per_device_train_batch_size=cfg.generations * cfg.prompts_per_step,
                      num_generations=cfg.generations, max_completion_length=cfg.max_completion_length,
                      temperature=cfg.temperature, beta=0.0, epsilon=0.2, epsilon_high=0.28, loss_type="dapo",
                      logging_steps=1, scale_rewards="group", shuffle_dataset=True)


def run_grpo_training(cfg: GRPORunConfig, tasks: list[Task], log: Callable[[str], None] = print,
                      model: Any = None, tokenizer: Any = None) -> dict[str, Any]:
    """Train, save the model under `out/model`, write `out/report.json`; returns the report."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from synthagent.integrations.trl.rollouts import TextRollouts
    from synthagent.reward.scorer import RewardConfig
    from synthagent.rollout.policies import build_simulators
    from synthagent.sim.kinds import KindCensus, RoutedTools, RoutedUsers

    cfg.validate()
    cfg.out.mkdir(parents=True, exist_ok=True)
    all_tasks = mixed_tasks(tasks, cfg.reasoning_mix, cfg.seed)
    census = KindCensus.of(all_tasks)
    log(f"tasks: {len(all_tasks)} ({', '.join(f'{k}: {n}' for k, n in sorted(census.counts.items()))})")
    simulators, judge = build_simulators(cfg.config, cfg.out / "mock-tools")
    tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(str(cfg.model))
    model = model if model is not None else AutoModelForCausalLM.from_pretrained(str(cfg.model))
    rollouts = TextRollouts(all_tasks, user=RoutedUsers(simulators), tools=RoutedTools(simulators), judge=judge,
                            tokenizer=tokenizer, reward_config=RewardConfig(), fault_policy=cfg.fault_policy,  # type: ignore[arg-type]
                            max_turns=cfg.max_turns, max_new_tokens=cfg.max_new_tokens,
                            concurrency=cfg.concurrency, seed=cfg.seed,
                            log_path=cfg.out / "rollouts.jsonl")
    if rollouts.duplicates:
        log(f"{len(rollouts.duplicates)} task(s) open exactly like an earlier one and are left out "
            f"(first: {rollouts.duplicates[0]})")
    args = grpo_args(cfg, use_cpu=not torch.cuda.is_available())
    trainer = GRPOTrainer(model=model, args=args, processing_class=tokenizer, **rollouts.trainer_kwargs())
    start = time.perf_counter()
    trainer.train()
    seconds = round(time.perf_counter() - start, 1)
    history = trainer.state.log_history
    report = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
              "tasks": census.counts, "left_out_duplicates": rollouts.duplicates,
              "steps": trainer.state.global_step, "seconds": seconds,
              "reward_per_step": [h["reward"] for h in history if "reward" in h],
              "unscored_per_step": [h.get("synthagent/unscored") for h in history if "reward" in h],
              "rollouts": rollouts.stats.to_dict(), "episodes": str(cfg.out / "rollouts.jsonl"), "model": str(cfg.out / "model")}
    trainer.save_model(str(cfg.out / "model"))
    tokenizer.save_pretrained(str(cfg.out / "model"))
    (cfg.out / "report.json").write_text(json.dumps(report, indent=2))
    return report
