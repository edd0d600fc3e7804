"""synthagent: mock worlds in which small language models learn real agentic skills.

The names a script needs, importable from the root (each lives in the package of its stage):

    from synthagent import Knobs, RoutedTools, RoutedUsers, generate_task, get_domain, reference_policy, \
        run_episode_sync, score
    task = generate_task(get_domain("retail"), seed=0, knobs=Knobs.for_difficulty(1))
    trajectory = run_episode_sync(task, reference_policy("oracle"), RoutedUsers(), RoutedTools())
    print(score(task, trajectory).reward)   # 1.0

The root imports lazily, so `import synthagent` stays cheap and pulls in no optional extra.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Task": "synthagent.spec.models",
    "Trajectory": "synthagent.spec.models",
    "RubricResult": "synthagent.spec.models",
    "read_jsonl": "synthagent.spec.io",
    "write_jsonl": "synthagent.spec.io",
    "generate_task": "synthagent.worlds",
    "get_domain": "synthagent.worlds",
    "Knobs": "synthagent.worlds",
    "run_episode": "synthagent.sim.runtime",
    "run_episode_sync": "synthagent.sim.runtime",
    "reference_policy": "synthagent.sim.reference",
    "RoutedUsers": "synthagent.sim.kinds",
    "RoutedTools": "synthagent.sim.kinds",
    "world_kind": "synthagent.sim.kinds",
    "score": "synthagent.reward.scorer",
    "RewardConfig": "synthagent.reward.scorer",
    "build_policy": "synthagent.rollout.policies",
    "build_backends": "synthagent.rollout.policies",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synthagent' has no attribute {name!r}")
    return getattr(import_module(module), name)
