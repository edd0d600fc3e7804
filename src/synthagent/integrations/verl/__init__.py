"""verl adapter: an agent loop that plays our tasks (tool calls → our tool backend, plain text → our user
simulator, <answer> ends), a reward function that calls our scorer, and a GRPO config + launch script
with the paper's settings (see `config/`).

Only `agent_loop` imports verl; `settings` says where its LLM config, the mock tools' mapping M and the
fault policy are set. `episode` (the loop itself, verl-free) and `reward` run anywhere, so they
are tested here on a CPU with a local tokenizer and a scripted token generator.
"""

from synthagent.integrations.verl.episode import EpisodeOutput, run_episode_tokens, task_from_extra_info
from synthagent.integrations.verl.reward import compute_score, compute_score_async, score_trajectory
from synthagent.integrations.verl.settings import LoopSettings

__all__ = ["EpisodeOutput", "LoopSettings", "compute_score", "compute_score_async", "run_episode_tokens",
           "score_trajectory", "task_from_extra_info"]
