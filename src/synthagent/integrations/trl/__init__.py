"""TRL adapter: our tasks as a GRPOTrainer `environment_factory` (see `environment`), in the tool-only
conversation protocol of `protocol`. Importing this package needs neither torch nor TRL."""

from synthagent.integrations.trl.environment import EnvironmentSuite, SynthAgentEnv, record_answers, toolset_key
from synthagent.sim.tool_protocol import ASK_USER, prompt_messages, tool_schemas, to_tool_protocol

__all__ = ["ASK_USER", "EnvironmentSuite", "SynthAgentEnv", "prompt_messages", "record_answers", "tool_schemas",
           "to_tool_protocol", "toolset_key"]
