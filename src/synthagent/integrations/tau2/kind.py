"""The τ² world kind: τ²'s own domain tools, the scripted user on the imported ledger, τ²'s check ops.

Found by the world-kind registry through the `synthagent.world_kinds` entry point; importing this module
registers the kind and the check operations its rubrics compile to (tau2_db_match, tau2_env_assertion,
tau2_action, communicated). The user defaults to the scripted one (the imported ledger holds what τ²'s user
scenario knows); a run given `--user llm` plays τ²'s scenario text with the LLM user instead.
"""

from __future__ import annotations

from synthagent.integrations.tau2.checks import install_checks
from synthagent.sim.interfaces import ToolBackend, ToolSession, UserSimulator
from synthagent.sim.kinds import Simulators, WorldKind, register_world_kind
from synthagent.spec.models import Task


def _tools(_: Simulators) -> ToolBackend:
    from synthagent.integrations.tau2.backend import Tau2Backend

    return Tau2Backend()


def _user(_: Simulators) -> UserSimulator:
    from synthagent.sim.users.scripted import ScriptedUser

    return ScriptedUser()


def _replay(task: Task) -> ToolSession:
    from synthagent.integrations.tau2.backend import Tau2Session

    return Tau2Session(task)


TAU2_KIND = WorldKind(name="tau2", tools=_tools, user=_user, replay=None,
                      description="τ²-bench domain environment: τ²'s tools and database, τ²'s evaluation criteria")
register_world_kind(TAU2_KIND)
install_checks()
