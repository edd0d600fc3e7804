"""Dataset exports: SFT conversations (OpenAI messages + tools), TRL GRPO task sets, verl parquet."""

from synthagent.exports.sft import gold_trajectories, sft_record, write_sft
from synthagent.exports.trl import write_trl
from synthagent.exports.verl import write_verl

__all__ = ["gold_trajectories", "sft_record", "write_sft", "write_trl", "write_verl"]
