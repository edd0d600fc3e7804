#!/usr/bin/env bash
# GRPO on synthagent tasks with verl (paper settings in synthagent_grpo.yaml). Run in an environment with
# verl + vLLM (or SGLang) and synthagent installed:
#
#   synthagent export --format verl --tasks train_tasks.jsonl --out data/train.parquet
#   synthagent export --format verl --tasks val_tasks.jsonl   --out data/val.parquet
#   SYNTHAGENT_LLM_CONFIG=llm.yaml bash launch_grpo.sh [hydra overrides…]     e.g. trainer.n_gpus_per_node=4
#
# SYNTHAGENT_LLM_CONFIG (user, tool and judge roles) is needed for LLM-simulated tasks and for rubric items
# without a programmatic check; SYNTHAGENT_MOCK_STORE is where the mock tools' mapping M lives (a folder
# every Ray worker can reach: on several nodes, a shared file system with working flock). On a multi-node
# cluster export both on every node before `ray start`. See docs/training.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$(cd "$HERE/.." && pwd)"
export SYNTHAGENT_TRAIN_PARQUET="${SYNTHAGENT_TRAIN_PARQUET:-$PWD/data/train.parquet}"
export SYNTHAGENT_VAL_PARQUET="${SYNTHAGENT_VAL_PARQUET:-$PWD/data/val.parquet}"
export SYNTHAGENT_BASE_MODEL="${SYNTHAGENT_BASE_MODEL:-Qwen/Qwen3-8B}"
export SYNTHAGENT_AGENT_LOOPS="$HERE/agent_loops.yaml"
export SYNTHAGENT_REWARD_FN="$PKG/reward.py"
export SYNTHAGENT_MOCK_STORE="${SYNTHAGENT_MOCK_STORE:-$PWD/synthagent-mock-tools}"
if [ -n "${SYNTHAGENT_LLM_CONFIG:-}" ]; then export SYNTHAGENT_LLM_CONFIG="$(cd "$(dirname "$SYNTHAGENT_LLM_CONFIG")" && pwd)/$(basename "$SYNTHAGENT_LLM_CONFIG")"; fi
python3 -m verl.trainer.main_ppo --config-path "$HERE" --config-name synthagent_grpo "$@"
