"""The GRPO phase of `train tiny`: TRL's GRPOTrainer on our environment, with a per-group log and a
curriculum that drops tasks whose groups had no reward spread.

Why the log: GRPO learns only from groups whose rewards differ (a group with equal rewards has zero advantage);
the paper's ablation is about exactly that share. TRL logs the share per step (`frac_reward_zero_std`); the
per-rollout log here (`EnvironmentSuite.on_reward`) also gives each group's reward spread and pass rate, which
the curves page plots and the curriculum uses.

Why rounds: TRL samples prompts uniformly. With `grpo_rounds` > 1 the steps are split into rounds over a
smaller task pool, and after each round the tasks whose last group had no spread (all rollouts passed, or
all failed) leave the pool; the next round orders the rest by how close their pass rate is to ½ (most
variance, so the largest expected gradient), unplayed tasks after them. Each round is a fresh trainer on the
same model (the optimizer's moments start again; the learning rate is constant).
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthagent.reward.grounding import answer_guard
from synthagent.spec.models import Task

if TYPE_CHECKING:
    from synthagent.train.tiny import TinyConfig


@dataclass
class RolloutLog:
    """Every scored rollout in order: (task id, domain, reward, success); chunked into steps of `batch`."""

    batch: int
    rows: list[tuple[str, str, float, bool]] = field(default_factory=list)

    def record(self, env: Any) -> None:
        """The training reward, and success by the paper's measure whatever reward trains (held-out's measure)."""
        from synthagent.reward.scorer import PAPER, aggregate

        result, task = env.result, env.task
        success = aggregate(task.id, result.items, PAPER).success
        self.rows.append((task.id, task.domain, float(result.reward), bool(success)))

    def steps(self, start: int = 0) -> list[list[tuple[str, str, float, bool]]]:
        rows = self.rows[start:]
        return [rows[i:i + self.batch] for i in range(0, len(rows), self.batch)]

    @staticmethod
    def groups(step: list[tuple[str, str, float, bool]]) -> dict[str, list[tuple[float, bool]]]:
        """The step's rollouts grouped by task (a group is one prompt's rollouts)."""
        out: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for task_id, _domain, reward, success in step:
            out[task_id].append((reward, success))
        return out


def step_curves(log: RolloutLog) -> dict[str, list[float]]:
    """Per step: mean reward, success rate, mean within-group reward std and variance, zero-spread share."""
    curves: dict[str, list[float]] = {"reward": [], "success": [], "group_std": [], "group_variance": [],
                                      "zero_spread_share": []}
    for step in log.steps():
        groups = list(RolloutLog.groups(step).values())
        curves["reward"].append(round(statistics.fmean(r for _, _, r, _ in step), 4))
        curves["success"].append(round(statistics.fmean(s for _, _, _, s in step), 4))
        stds = [statistics.pstdev([r for r, _ in g]) for g in groups]
        curves["group_std"].append(round(statistics.fmean(stds), 4))
        curves["group_variance"].append(round(statistics.fmean(s * s for s in stds), 5))
        curves["zero_spread_share"].append(round(sum(s < 1e-9 for s in stds) / len(stds), 4))
    return curves


def next_pool(log: RolloutLog, pool: list[Task]) -> list[Task]:
    """The curriculum: drop tasks whose last group had no spread; the rest by |pass rate − ½|, unplayed last."""
    last: dict[str, list[tuple[float, bool]]] = {}
    for step in log.steps():
        last.update(RolloutLog.groups(step))
    played, fresh = [], []
    for task in pool:
        group = last.get(task.id)
        if group is None:
            fresh.append(task)
        elif max(r for r, _ in group) - min(r for r, _ in group) > 1e-9:
            rate = sum(s for _, s in group) / len(group)
            played.append((abs(rate - 0.5), task))
    played.sort(key=lambda pair: pair[0])
    return [task for _, task in played] + fresh


def run_grpo(model: Any, tokenizer: Any, tasks: list[Task], cfg: TinyConfig, out: Path,
             reward: str | None = None) -> dict[str, Any]:
    """GRPO on `tasks` under the reward preset `reward` (default `cfg.grpo_reward or cfg.reward`)."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOConfig, GRPOTrainer

    from synthagent.integrations.trl.environment import EnvironmentSuite
    from synthagent.reward.scorer import reward_config
    from synthagent.train.tiny import _common_args, torch_threads

    batch = cfg.grpo_generations * cfg.grpo_prompts_per_step
    log = RolloutLog(batch=batch)
    suite = EnvironmentSuite(tasks, seed=cfg.seed, max_turns=cfg.grpo_max_tool_calls + 1,
                             reward_config=reward_config(reward or cfg.grpo_reward or cfg.reward), on_reward=log.record)
    rounds = max(1, cfg.grpo_rounds)
    per_round = [cfg.grpo_steps // rounds + (i < cfg.grpo_steps % rounds) for i in range(rounds)]
    pool = list(tasks)
    history: list[dict[str, Any]] = []
    pools: list[int] = []
    envs_seen: list[Any] = []
    start = time.perf_counter()
    for number, steps in enumerate(per_round):
        if steps <= 0 or not pool:
            continue
        if number:
            pool = next_pool(log, pool) or pool
        pools.append(len(pool))
        # a round's dataset in curriculum order: TRL shuffles only when asked (shuffle_dataset=False for rounds)
        position = {t.id: i for i, t in enumerate(tasks)}
        dataset = suite.dataset().select([position[t.id] for t in pool]) if rounds > 1 else suite.dataset()
        args = GRPOConfig(**_common_args(GRPOConfig, out / "grpo", cfg.seed + number), max_steps=steps,
                          learning_rate=cfg.grpo_lr, lr_scheduler_type="constant", per_device_train_batch_size=batch,
                          num_generations=cfg.grpo_generations, max_completion_length=cfg.grpo_max_completion_length,
                          max_tool_calling_iterations=cfg.grpo_max_tool_calls, temperature=cfg.grpo_temperature,
                          beta=0.0, epsilon=0.2, epsilon_high=0.28, loss_type="dapo", logging_steps=1,
                          scale_rewards=cfg.grpo_scale_rewards, num_iterations=cfg.grpo_iterations,
                          top_entropy_quantile=cfg.grpo_top_entropy_quantile, shuffle_dataset=rounds == 1)
        kwargs = suite.trainer_kwargs() | {"train_dataset": dataset}
        trainer = GRPOTrainer(model=model, args=args, processing_class=tokenizer, **kwargs)
        with torch_threads(cfg.generation_threads):  # GRPO time is mostly generation
            trainer.train()
        history.extend(trainer.state.log_history)
        for env_pool in getattr(trainer, "_environment_pool", {}).values():
            envs_seen.extend(env_pool)
    rewards = [h.get("reward") for h in history if "reward" in h]
    calls = [h.get("tools/call_frequency") for h in history if "tools/call_frequency" in h]
    # TRL's share of groups whose rewards are all equal: such a group has zero advantage and teaches nothing
    zero_spread = [h["frac_reward_zero_std"] for h in history if "frac_reward_zero_std" in h]
    scored = [env for env in envs_seen if env.result is not None]
    return {"steps": len(zero_spread), "seconds": round(time.perf_counter() - start, 1),
            "reward_preset": reward or cfg.grpo_reward or cfg.reward, "rounds": len(pools), "pool_per_round": pools,
            "reward_per_step": [round(r, 4) for r in rewards if r is not None],
            "tool_calls_per_rollout": [round(c, 3) for c in calls if c is not None],
            "zero_spread_share_per_step": [round(z, 4) for z in zero_spread],
            "steps_with_spread": sum(z < 1.0 for z in zero_spread),
            "curves": step_curves(log),
            "environments": len(envs_seen),
            "last_episodes": {"scored": len(scored),
                              "tool_calls": sum(env.trajectory.counters.tool_calls for env in scored),
                              "rewards": [env.result.reward for env in scored],
                              # the stuffing guard: a reward that paid for mentions would drift these up
                              **answer_guard((env.task, env.trajectory.answer) for env in scored)}}
