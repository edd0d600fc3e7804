"""Turn a `--policy` string and a task set into the policy and simulators a rollout needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthagent.rollout.openai_policy import PolicyOptions
from synthagent.rollout.reference import REFERENCE_POLICIES, reference_policy
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import Task


def build_policy(spec: str, *, base_url: str | None = None, config: Path | None = None,
                 options: PolicyOptions | None = None) -> Any:
    if spec in REFERENCE_POLICIES:
        return reference_policy(spec)
    if spec.startswith("openai:"):
        from synthagent.rollout.openai_policy import openai_policy

        return openai_policy(spec.split(":", 1)[1], base_url=base_url, config=config, options=options or PolicyOptions())
    if spec.startswith("hf:"):
        from synthagent.rollout.hf_policy import HFPolicy

        if not spec[3:]:
            raise ValueError("hf:PATH needs a local model folder, e.g. hf:runs/tiny/model")
        return HFPolicy(spec[3:])
    raise KeyError(f"unknown policy {spec!r}; use one of {', '.join(REFERENCE_POLICIES)}, openai:MODEL or hf:PATH")


class RoutingToolBackend:
    """Sends each task to the backend its world calls for: our database, τ²'s environment, or an LLM mock."""

    def __init__(self, llm_tools: Any = None):
        self.executable = ExecutableBackend()
        self.llm_tools = llm_tools
        self._tau2: Any = None

    def session(self, task: Task) -> Any:
        world = task.world or {}
        if "db" in world:
            return self.executable.session(task)
        if "tau2" in world:
            if self._tau2 is None:
                from synthagent.integrations.tau2 import Tau2Backend

                self._tau2 = Tau2Backend()
            return self._tau2.session(task)
        if self.llm_tools is None:
            raise ValueError(f"task {task.id} has no executable world and no LLM tool simulator is configured")
        return self.llm_tools.session(task)


def executable(task: Task) -> bool:
    world = task.world or {}
    return "db" in world or "tau2" in world


def build_backends(tasks: list[Task], config: Path | None = None, store_dir: Path | None = None
                   ) -> tuple[Any, Any, Any]:
    """(user, tools, judge) for a task set.

    Tasks with an executable world (procedural database or τ² environment) run on the scripted user and
    real tools, which need no model and no judge. Any other task (imported or teacher-made), or any run
    given `config`, uses the LLM user, the LLM mock tools with their shared mapping M (kept under
    `store_dir`) and the LLM judge, all configured by `config`.
    """
    simulated = [t.id for t in tasks if not executable(t)]
    if config is None:
        if simulated:
            raise ValueError(f"{len(simulated)} task(s) (first: {simulated[0]}) have no executable world; pass "
                             "--config with user, tool and judge roles to simulate them with a model")
        return ScriptedUser(), RoutingToolBackend(), None
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import load_config
    from synthagent.reward.judge import LLMJudge
    from synthagent.sim.tools.llm_mock import LLMToolBackend
    from synthagent.sim.users.llm import LLMUser

    client = LLMClient(load_config(config))
    return (LLMUser(client), RoutingToolBackend(LLMToolBackend(client, store_dir or Path("mock-tools"))),
            LLMJudge(client))
