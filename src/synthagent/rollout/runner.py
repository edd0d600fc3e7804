"""Roll out a policy over tasks, k samples each, scoring as it goes; resumable by (task, policy, sample).

Each finished trajectory is appended to the output JSONL at once, so an interrupted run loses at most the
episodes in flight; a rerun skips every key already on disk. Sample j of a task gets the seed
derive_seed(seed, task id, j), so the same seed gives the same rollouts and the same summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthagent.reward.scorer import RewardConfig, ScoringError, score_episode
from synthagent.sim.interfaces import Policy, ToolBackend, UserSimulator
from synthagent.sim.runtime import DEFAULT_MAX_TURNS, run_episode
from synthagent.spec.io import JsonlAppender, iter_jsonl
from synthagent.spec.models import Task, Trajectory
from synthagent.worlds import derive_seed


@dataclass
class RolloutConfig:
    k: int = 1
    seed: int = 0
    concurrency: int = 8
    max_turns: int = DEFAULT_MAX_TURNS
    reward: RewardConfig = RewardConfig()


def turn_limit(task: Task, default: int) -> int:
    """The configured limit, raised for tasks that declare they need more (`metadata.min_turns`)."""
    return max(default, int(task.metadata.get("min_turns", 0)))


def existing_keys(path: Path) -> set[tuple[str, str, int]]:
    if not path.exists():
        return set()
    return {t.key for t in iter_jsonl(path, Trajectory, tolerate_truncated_tail=True)}


async def rollout(
    tasks: list[Task],
    policy: Policy,
    user: UserSimulator,
    tools: ToolBackend,
    out: Path,
    config: RolloutConfig = RolloutConfig(),
    on_done: Callable[[Trajectory], None] | None = None,
    judge: Any = None,
) -> int:
    done = existing_keys(out)
    jobs = [(task, j) for task in tasks for j in range(config.k) if (task.id, policy.name, j) not in done]
    gate = asyncio.Semaphore(max(1, config.concurrency))
    written = 0
    with JsonlAppender(out) as sink:

        async def one(task: Task, j: int) -> None:
            nonlocal written
            async with gate:
                traj = await run_episode(task, policy, user, tools, seed=derive_seed(config.seed, task.id, j),
                                         sample=j, max_turns=turn_limit(task, config.max_turns))
            try:
                await score_episode(task, traj, config.reward, judge=judge)  # a judge failure: unscored (fault)
            except ScoringError as err:
                traj.meta["scoring_error"] = str(err)
            sink.write(traj)
            written += 1
            if on_done:
                on_done(traj)

        await asyncio.gather(*(one(task, j) for task, j in jobs))
    return written
