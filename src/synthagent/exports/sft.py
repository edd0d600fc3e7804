"""SFT data from gold or teacher trajectories: one JSONL row per episode, loadable by `datasets`.

A row is {"messages": [...], "tools": "<JSON text>", "task_id", "domain", "difficulty", "reward", "source"}.
`messages` are OpenAI chat messages (tool-call arguments as JSON text, as the API sends them); `tools` is
the OpenAI `tools=` list as JSON text, because every task has its own tool schemas and an Arrow column
needs one type for all rows (TRL's SFTTrainer reads a JSON-text `tools` column as is).

Two conversation protocols:
- "chat" (default): the runtime's, as any OpenAI-compatible endpoint sees it — the agent talks to the user
  in plain text and ends with <answer>…</answer>;
- "ask_user": TRL's tool-only protocol (see `sim.tool_protocol`) — the agent asks through the
  `ask_user` tool, and tools are shown in the schema TRL derives; use it to SFT a model you then train
  with the TRL environment.

Gold trajectories come from playing each task's gold plan (the oracle) against the scripted user and the
executable tools; teacher trajectories are any scored runs (`synthagent rollout` output), kept when their
reward reaches `min_reward`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from synthagent.reward.scorer import score
from synthagent.sim.reference import OraclePolicy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.kinds import RoutedTools, RoutedUsers, world_kind
from synthagent.spec.models import Task, Trajectory

Protocol = Literal["chat", "ask_user"]


def gold_trajectories(tasks: Iterable[Task], *, seed: int = 0, seed_per_task: bool = True) -> list[Trajectory]:
    """The oracle's episode of each task whose world kind replays its gold plan without a model, scored.

    Each episode's seed derives from `seed` and the task id, so the data shows every way the scripted user
    words a reveal; with `seed_per_task=False` every episode uses `seed` and one wording (a model trained on
    that lost a third of its success when evaluated on the others)."""
    from synthagent.worlds import derive_seed

    user, tools, oracle = RoutedUsers(), RoutedTools(), OraclePolicy()
    out = []
    for task in tasks:
        if not world_kind(task).offline_gold or not task.gold:
            continue
        episode_seed = derive_seed(seed, "gold", task.id) if seed_per_task else seed
        traj = run_episode_sync(task, oracle, user, tools, seed=episode_seed)
        traj.result = score(task, traj)
        out.append(traj)
    return out


def sft_record(task: Task, trajectory: Trajectory, protocol: Protocol = "chat") -> dict[str, Any]:
    if protocol == "chat":
        messages = [m.openai() for m in trajectory.messages]
        tools = [t.openai() for t in task.tools]
    elif protocol == "ask_user":
        from synthagent.sim.tool_protocol import to_tool_protocol, tool_schemas

        messages = to_tool_protocol(trajectory.messages, task)
        tools = tool_schemas(task)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; use 'chat' or 'ask_user'")
    return {"messages": messages, "tools": json.dumps(tools, ensure_ascii=False), "task_id": task.id,
            "domain": task.domain, "difficulty": task.difficulty,
            "reward": trajectory.result.reward if trajectory.result else None, "source": trajectory.policy}


def sft_records(tasks: list[Task], runs: list[Trajectory] | None = None, *, protocol: Protocol = "chat",
                min_reward: float = 1.0) -> list[dict[str, Any]]:
    """Rows from `runs` (teacher trajectories) when given, else from gold trajectories."""
    by_id = {t.id: t for t in tasks}
    chosen = gold_trajectories(tasks) if runs is None else runs
    rows = []
    for traj in chosen:
        task = by_id.get(traj.task_id)
        if task is None:
            raise ValueError(f"run of task {traj.task_id} ({traj.policy}, sample {traj.sample}) has no task")
        if traj.result is None:
            traj.result = score(task, traj)
        if traj.result.reward + 1e-9 < min_reward:
            continue
        rows.append(sft_record(task, traj, protocol))
    return rows


def write_jsonl_rows(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with p.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_sft(tasks: list[Task], path: str | os.PathLike[str], runs: list[Trajectory] | None = None, *,
              protocol: Protocol = "chat", min_reward: float = 1.0) -> int:
    return write_jsonl_rows(sft_records(tasks, runs, protocol=protocol, min_reward=min_reward), path)
