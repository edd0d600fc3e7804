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


def build_backends(tasks: list[Task], config: Path | None = None, store_dir: Path | None = None
                   ) -> tuple[Any, Any, Any]:
    """(user, tools, judge) for a task set.

    Procedural tasks run on the scripted user and executable tools, which need no model and no judge.
    Tasks without an executable world (imported or teacher-made) need the LLM user, the LLM mock tools with
    their shared mapping M (kept under `store_dir`) and the LLM judge, all configured by `config`.
    """
    missing = [t.id for t in tasks if not t.world or "db" not in t.world]
    if not missing:
        return ScriptedUser(), ExecutableBackend(), None
    if config is None:
        raise ValueError(f"{len(missing)} task(s) (first: {missing[0]}) have no executable world; pass --config "
                         "with user, tool and judge roles to simulate them with a model")
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import load_config
    from synthagent.reward.judge import LLMJudge
    from synthagent.sim.tools.llm_mock import LLMToolBackend
    from synthagent.sim.users.llm import LLMUser

    client = LLMClient(load_config(config))
    return LLMUser(client), LLMToolBackend(client, store_dir or Path("mock-tools")), LLMJudge(client)
