"""Turn a `--policy` string and a task set into the policy and simulators a rollout needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthagent.rollout.openai_policy import PolicyOptions
from synthagent.sim.kinds import RoutedTools, RoutedUsers, Simulators, world_kind
from synthagent.sim.reference import REFERENCE_POLICIES, reference_policy
from synthagent.spec.models import Task

if TYPE_CHECKING:
    from synthagent.reward.judge import LLMJudge


def build_policy(spec: str, *, base_url: str | None = None, config: Path | None = None,
                 options: PolicyOptions | None = None) -> Any:
    options = options or PolicyOptions()
    if options.constrained_calls and not spec.startswith("hf:"):
        raise ValueError("constrained calls are for hf:PATH policies (a served model's server constrains its own)")
    if spec in REFERENCE_POLICIES:
        return reference_policy(spec)
    if spec.startswith("openai:"):
        from synthagent.rollout.openai_policy import openai_policy

        return openai_policy(spec.split(":", 1)[1], base_url=base_url, config=config, options=options)
    if spec.startswith("hf:"):
        from synthagent.rollout.hf_policy import HFPolicy

        if not spec[3:]:
            raise ValueError("hf:PATH needs a local model folder, e.g. hf:runs/tiny/model")
        # the flags a local model can honour; the label says when calls were constrained, so a resumed run
        # never mixes episodes decoded both ways
        return HFPolicy(spec[3:], max_new_tokens=options.max_tokens or 256, temperature=options.temperature or 0.0,
                        constrain_calls=options.constrained_calls,
                        name=f"{spec}#constrained" if options.constrained_calls else None)
    raise KeyError(f"unknown policy {spec!r}; use one of {', '.join(REFERENCE_POLICIES)}, openai:MODEL or hf:PATH")


def build_simulators(config: Path, store_dir: Path | None = None) -> tuple[Simulators, "LLMJudge"]:
    """The model-backed roles of one LLM config: the LLM user, the LLM mock tools (their mapping M kept under
    `store_dir`, shared by every rollout of a task) and the LLM judge. Every runner — rollout, TRL, verl,
    the server — builds them here, so one YAML file drives the simulators everywhere."""
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import load_config
    from synthagent.reward.judge import LLMJudge
    from synthagent.sim.tools.llm_mock import LLMToolBackend
    from synthagent.sim.users.llm import LLMUser

    client = LLMClient(load_config(config))
    simulators = Simulators(user=LLMUser(client), tools=LLMToolBackend(client, store_dir or Path("mock-tools")))
    return simulators, LLMJudge(client)


def build_backends(tasks: list[Task], config: Path | None = None, store_dir: Path | None = None
                   ) -> tuple[RoutedUsers, RoutedTools, "LLMJudge | None"]:
    """(user, tools, judge) for a task set: each task is played by its world kind's simulators.

    Offline kinds (procedural, τ², reasoning) use their own tools and scripted user whether or not a config
    is given. Kinds simulated by a model (teacher-made or release-imported tasks) get the LLM user and the
    LLM mock tools with their shared mapping M; `config` supplies those roles and the LLM judge for rubric
    items without a programmatic check.
    """
    needing = [t.id for t in tasks if world_kind(t).needs_model]
    if config is None:
        if needing:
            raise ValueError(f"{len(needing)} task(s) (first: {needing[0]}) are simulated by a model; pass "
                             "--config with user, tool and judge roles")
        return RoutedUsers(), RoutedTools(), None
    simulators, judge = build_simulators(config, store_dir)
    return RoutedUsers(simulators), RoutedTools(simulators), judge
