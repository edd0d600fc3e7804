"""TRL adapter. Default: GRPO rollouts in the runtime's text protocol as TRL's `rollout_func` (`rollouts`,
what `synthagent train grpo` uses). Kept for `train tiny`: an `environment_factory` in the tool-only
`ask_user` protocol (`environment`, `sim/tool_protocol.py`). Importing this package needs neither torch nor TRL."""

from synthagent.integrations.trl.environment import EnvironmentSuite, SynthAgentEnv, record_answers, toolset_key
from synthagent.integrations.trl.rollouts import TextRollouts, episode_reward, play_scored, trainer_reward
from synthagent.sim.tool_protocol import ASK_USER, prompt_messages, tool_schemas, to_tool_protocol

__all__ = ["ASK_USER", "EnvironmentSuite", "SynthAgentEnv", "TextRollouts", "episode_reward", "play_scored",
           "prompt_messages", "record_answers", "tool_schemas", "to_tool_protocol", "toolset_key", "trainer_reward"]
