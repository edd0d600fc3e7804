"""verl RL parquet: our layout (the release prompt with the Task embedded, so the agent loop and the reward
function of `integrations.verl` rebuild it losslessly) or the authors' layout (the rows their verl fork
reads; see `integrations.release_verl`)."""

from __future__ import annotations

import os

from synthagent.integrations.release_verl import DEFAULT_HISTORY_PATH, Layout, read_verl_parquet, write_verl_parquet
from synthagent.spec.models import Task


def write_verl(tasks: list[Task], path: str | os.PathLike[str], *, split: str = "train", layout: Layout = "ours",
               mock_store: str = DEFAULT_HISTORY_PATH) -> int:
    if layout == "authors":
        return write_verl_parquet(tasks, path, layout="authors", split=split, tool_call_history_path=mock_store)
    return write_verl_parquet(tasks, path, split=split, embed_task=True)


__all__ = ["read_verl_parquet", "write_verl"]
