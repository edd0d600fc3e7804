"""verl RL parquet: the release-layout rows of `integrations.release_verl`, with the Task embedded so the
agent loop and the reward function (`integrations.verl`) can rebuild it losslessly."""

from __future__ import annotations

import os

from synthagent.integrations.release_verl import read_verl_parquet, write_verl_parquet
from synthagent.spec.models import Task


def write_verl(tasks: list[Task], path: str | os.PathLike[str], *, split: str = "train") -> int:
    return write_verl_parquet(tasks, path, split=split, embed_task=True)


__all__ = ["read_verl_parquet", "write_verl"]
