#!/usr/bin/env bash
# GRPO on synthagent tasks with verl (paper settings in synthagent_grpo.yaml). Run in an environment with
# verl + vLLM (or SGLang) and synthagent installed:
#
#   synthagent export --format verl --tasks train_tasks.jsonl --out data/train.parquet
#   synthagent export --format verl --tasks val_tasks.jsonl   --out data/val.parquet
#   bash launch_grpo.sh [hydra overrides…]     e.g. trainer.n_gpus_per_node=4
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$(cd "$HERE/.." && pwd)"
export SYNTHAGENT_TRAIN_PARQUET="${SYNTHAGENT_TRAIN_PARQUET:-$PWD/data/train.parquet}"
export SYNTHAGENT_VAL_PARQUET="${SYNTHAGENT_VAL_PARQUET:-$PWD/data/val.parquet}"
export SYNTHAGENT_BASE_MODEL="${SYNTHAGENT_BASE_MODEL:-Qwen/Qwen3-8B}"
export SYNTHAGENT_AGENT_LOOPS="$HERE/agent_loops.yaml"
export SYNTHAGENT_REWARD_FN="$PKG/reward.py"
python3 -m verl.trainer.main_ppo --config-path "$HERE" --config-name synthagent_grpo "$@"
