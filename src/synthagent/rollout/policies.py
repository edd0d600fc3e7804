"""Turn a `--policy` string and a task set into the policy and simulators a rollout needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthagent.rollout.reference import REFERENCE_POLICIES, reference_policy
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import Task


def build_policy(spec: str, *, base_url: str | None = None, config: Path | None = None) -> Any:
    if spec in REFERENCE_POLICIES:
        return reference_policy(spec)
    if spec.startswith("openai:"):
        from synthagent.llm.client import LLMClient
        from synthagent.llm.config import LLMConfig, load_config
        from synthagent.rollout.openai_policy import OpenAIPolicy

        model = spec.split(":", 1)[1]
        if not model:
            raise ValueError("openai:MODEL needs a model name, e.g. openai:Qwen/Qwen3-8B")
        if config is not None:
            cfg = load_config(config)
        elif base_url:
            cfg = LLMConfig.for_endpoint(base_url, model)
        else:
            raise ValueError("openai:MODEL needs --base-url or --config")
        if config is not None and base_url:
            cfg = LLMConfig.for_endpoint(base_url, model)
        return OpenAIPolicy(LLMClient(cfg), model)
    raise KeyError(f"unknown policy {spec!r}; use one of {', '.join(REFERENCE_POLICIES)} or openai:MODEL")


def build_backends(tasks: list[Task], config: Path | None = None) -> tuple[Any, Any]:
    """Procedural tasks run on the scripted user and executable tools, which need no model."""
    missing = [t.id for t in tasks if not t.world or "db" not in t.world]
    if missing:
        raise SystemExit(f"error: {len(missing)} task(s) (first: {missing[0]}) have no executable world; "
                         "LLM-simulated users and tools are needed for them (see docs)")
    return ScriptedUser(), ExecutableBackend()
