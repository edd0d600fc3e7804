"""The settings of a synthesis run, and which of them decide its results (``run.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.stage_prompts import PROMPT_VERSIONS
from synthagent.synth.llm.teacher_runs import DEFAULT_MAX_TURNS, DEFAULT_RUNS, TOOL_CONTEXT_CAP

REQUIRED_ROLES = ("teacher", "user", "tool")


@dataclass(frozen=True)
class SynthOptions:
    n: int | None = None
    seed: int = 0
    concurrency: int = 64
    runs: int = DEFAULT_RUNS
    max_turns: int = DEFAULT_MAX_TURNS
    dedup_threshold: float = 0.8
    tool_cap: int = TOOL_CONTEXT_CAP
    max_unit_errors: int = 50
    policy_trees: bool = False
    """Run stage P: a branching policy tree per task, sampled on its legal or its illegal variant."""

    def manifest(self, config: LLMConfig) -> dict[str, Any]:
        """The settings that decide results: a rerun must use the same ones (``n`` may grow)."""
        trees = {"policy_trees": True} if self.policy_trees else {}  # absent when off: older folders still match
        return {**trees, "format": 1, "seed": self.seed, "runs": self.runs, "max_turns": self.max_turns,
                "dedup_threshold": self.dedup_threshold, "tool_cap": self.tool_cap, "prompts": PROMPT_VERSIONS,
                "models": {role: config.role(role).model for role in REQUIRED_ROLES}}


def validate_roles(config: LLMConfig) -> None:
    """Fail before any work when the config lacks a role the pipeline calls."""
    for role in REQUIRED_ROLES:
        config.role(role)  # raises ConfigError naming the role
