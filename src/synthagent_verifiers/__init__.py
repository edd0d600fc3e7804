"""verifiers' name for synthagent's environment package: `--env.taskset.id synthagent-verifiers`.

verifiers imports a taskset id as a top-level module (`synthagent-verifiers` -> `synthagent_verifiers`), so this
module only re-exports `synthagent.integrations.verifiers_env` (see there and docs/serve.md). Importing it
needs verifiers installed (`make .venv-verifiers`).
"""

from synthagent.integrations.verifiers_env import (SynthagentEnv, SynthagentEnvConfig, SynthagentHarness,
                                                   SynthagentHarnessConfig, SynthagentTask, SynthagentTaskData,
                                                   SynthagentTaskset, SynthagentTasksetConfig)

__all__ = ["SynthagentEnv", "SynthagentEnvConfig", "SynthagentHarness", "SynthagentHarnessConfig", "SynthagentTask",
           "SynthagentTaskData", "SynthagentTaskset", "SynthagentTasksetConfig"]
