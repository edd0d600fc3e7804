"""The world-kind registry: for each kind of `Task.world`, what plays it and how it is replayed.

Every runner (rollout, scorer, TRL, verl, the HTTP server, exports, the report) asks this registry which
tool backend, which default user simulator and which replay a task gets; none of them looks at a task's
keys. The two kinds this package can play itself (procedural, simulated) register here; the others
register from their own packages (τ² from `integrations.tau2`, reasoning from `integrations.reasoning_gym`),
found through the `synthagent.world_kinds` entry-point group, so the core never imports an integration and a
third-party package can add a kind without editing ours. A kind's module also registers its rubric check
operations with `synthagent.reward.checks.register_check` when it is imported.

The LLM roles (user, tool and judge simulators from one YAML config) are passed in as `Simulators`; a kind
that needs them and does not get them fails with a message that says to pass `--config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import Callable

from synthagent.sim.interfaces import ToolBackend, ToolSession, UserSession, UserSimulator
from synthagent.spec.models import Task

ENTRY_POINT_GROUP = "synthagent.world_kinds"


class WorldKindError(LookupError):
    """A task's world kind is not registered, or needs a simulator that was not configured."""


@dataclass(frozen=True)
class Simulators:
    """The model-backed simulators built from an LLM config; None where no config was given."""

    user: UserSimulator | None = None
    tools: ToolBackend | None = None

    def need_user(self, kind: str) -> UserSimulator:
        if self.user is None:
            raise WorldKindError(f"{kind} tasks need the LLM user simulator: pass --config with a `user` role")
        return self.user

    def need_tools(self, kind: str) -> ToolBackend:
        if self.tools is None:
            raise WorldKindError(f"{kind} tasks need the LLM tool simulator: pass --config with a `tool` role")
        return self.tools


@dataclass(frozen=True)
class WorldKind:
    """What one kind of world supplies to every runner.

    `tools` and `user` build the kind's tool backend and default user simulator (given the configured LLM
    simulators, which offline kinds ignore). `replay` opens a fresh tool session the scorer re-executes an
    episode's calls on, for kinds whose tools are deterministic programs; None means the scorer trusts the
    recorded calls. `needs_model` says whether playing it needs the LLM roles; `offline_gold` whether its
    gold plan replays to a scored episode without any model (what SFT export and self-tests need).
    """

    name: str
    tools: Callable[[Simulators], ToolBackend]
    user: Callable[[Simulators], UserSimulator]
    replay: Callable[[Task], ToolSession] | None = None
    needs_model: bool = False
    offline_gold: bool = False
    description: str = ""


_KINDS: dict[str, WorldKind] = {}
_loaded_entry_points = False


def register_world_kind(kind: WorldKind) -> None:
    """Add or replace a kind (a plug-in module calls this when imported)."""
    _KINDS[kind.name] = kind


def world_kind(what: Task | str) -> WorldKind:
    """The registered kind of a task (or of a kind name), loading plug-ins on first need."""
    name = what if isinstance(what, str) else what.world.kind
    if name not in _KINDS:
        _load_plugins()
    try:
        return _KINDS[name]
    except KeyError:
        raise WorldKindError(f"no world kind {name!r} is registered (known: {', '.join(sorted(_KINDS))}); "
                             f"its package must declare an entry point in the {ENTRY_POINT_GROUP!r} group") from None


def _load_plugins() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _KINDS:
            continue
        try:
            import_module(ep.value.split(":", 1)[0])
        except ImportError:  # an optional extra that is not installed: the kind stays unknown, with the message
            continue


# ------------------------------------------------------------------------------------- routing


class RoutedTools:
    """One tool backend for a mixed task set: each task's session comes from its own kind's backend."""

    def __init__(self, simulators: Simulators = Simulators()):
        self.simulators = simulators
        self._backends: dict[str, ToolBackend] = {}

    def backend(self, task: Task) -> ToolBackend:
        kind = world_kind(task)
        if kind.name not in self._backends:
            self._backends[kind.name] = kind.tools(self.simulators)
        return self._backends[kind.name]

    def session(self, task: Task) -> ToolSession:
        return self.backend(task).session(task)


class RoutedUsers:
    """One user simulator for a mixed task set: each task gets its kind's default user simulator."""

    def __init__(self, simulators: Simulators = Simulators()):
        self.simulators = simulators
        self._users: dict[str, UserSimulator] = {}

    def simulator(self, task: Task) -> UserSimulator:
        kind = world_kind(task)
        if kind.name not in self._users:
            self._users[kind.name] = kind.user(self.simulators)
        return self._users[kind.name]

    def session(self, task: Task, seed: int) -> UserSession:
        return self.simulator(task).session(task, seed)


@dataclass
class KindCensus:
    """How many tasks of each kind a set has, and which simulators they will get (printed at a run's start)."""

    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, tasks: list[Task]) -> "KindCensus":
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task.world.kind] = counts.get(task.world.kind, 0) + 1
        return cls(counts)

    def simulator_lines(self, tasks: list[Task], users: "RoutedUsers", tools: "RoutedTools") -> list[str]:
        """One line per kind: how many tasks, and the user and tool simulators they will be played with.

        Printed at the start of a rollout so nobody has to guess whether a task set's procedural tasks kept
        their scripted user when a config brought the LLM roles (they do: each kind picks its own).
        """
        first: dict[str, Task] = {}
        for task in tasks:
            first.setdefault(task.world.kind, task)
        return [f"{kind}: {self.counts[kind]} task(s); user {simulator_name(users.simulator(task))}, "
                f"tools {simulator_name(tools.backend(task))}" for kind, task in first.items()]


def simulator_name(simulator: object) -> str:
    """A simulator's class, with the model behind it when it has one (`LLMUser (model qwen3-8b)`)."""
    model = getattr(getattr(simulator, "client", None), "model", None)
    return type(simulator).__name__ + (f" (model {model})" if model else "")


# -------------------------------------------------------------------------------- built-in kinds


def _executable_tools(_: Simulators) -> ToolBackend:
    from synthagent.sim.tools.executable import ExecutableBackend

    return ExecutableBackend()


def _scripted_user(_: Simulators) -> UserSimulator:
    from synthagent.sim.users.scripted import ScriptedUser

    return ScriptedUser()


def _executable_replay(task: Task) -> ToolSession:
    from synthagent.sim.tools.executable import ExecutableSession

    return ExecutableSession(task)


register_world_kind(WorldKind(
    name="procedural", tools=_executable_tools, user=_scripted_user, replay=_executable_replay,
    offline_gold=True, description="generated database, executable tools, scripted user with a private ledger"))
register_world_kind(WorldKind(
    name="simulated", tools=lambda sims: sims.need_tools("simulated"), user=lambda sims: sims.need_user("simulated"),
    needs_model=True, description="LLM mock tools sharing the mapping M, LLM user holding the hidden background"))
