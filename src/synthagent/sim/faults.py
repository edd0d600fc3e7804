"""Which simulator, if any, failed an episode: the runtime's records → `Trajectory.fault`.

The LLM simulators never raise on an endpoint failure; they degrade in-band so the episode can end
cleanly: the LLM user returns an empty reply with `fault` set (the runtime records it as a user message
with `error=True` and stops with `stop_reason="fault"`), and the LLM mock tools answer with an error
observation and count `tool_faults`. Such an episode says nothing about the agent, so a trainer must not
score it as an agent failure. `simulator_fault` reads those records and names the role that failed, so
every runner (TRL, verl, rollout) marks the same episodes unscored for the same reasons. (A malformed tool
call or a schema violation by the tool simulator is not a fault: the agent gets an error it can learn
from, as it would from a real tool.)
"""

from __future__ import annotations

from synthagent.spec.models import Fault, Trajectory


def simulator_fault(trajectory: Trajectory) -> Fault | None:
    """The first simulator failure recorded in an episode, or None when the simulators held up."""
    if trajectory.meta.get("stop_reason") == "fault" or any(
            m.actor == "user" and m.error for m in trajectory.messages):
        return Fault(role="user", message="the user simulator failed after its retries (empty or no reply)")
    tool_faults = int(trajectory.metrics.get("tool_faults", 0))
    if tool_faults:
        return Fault(role="tools", message=f"the tool simulator failed after its retries on {tool_faults} call(s)")
    return None
