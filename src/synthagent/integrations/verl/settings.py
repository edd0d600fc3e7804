"""What the verl agent loop needs besides the policy: its settings, and the simulators and judge they build.

verl instantiates one `SynthAgentLoop` per sample inside each AgentLoopWorker process, so the expensive
parts (the LLM client, the user and tool simulators, the judge, the judge's concurrency gate) are built
once per process from the settings and shared by every loop there (`loop_resources`).

Settings come from the top-level `synthagent:` block of the verl config (see
`config/synthagent_grpo.yaml`), each overridable by an environment variable (a Ray job passes them with
`runtime_env`):

    llm_config          SYNTHAGENT_LLM_CONFIG      the LLM YAML with user, tool and judge roles (one file drives
                                                   the simulators and judge in every runner); needed for tasks
                                                   simulated by a model and for rubrics that need a judge
    mock_store          SYNTHAGENT_MOCK_STORE      where the mock tools' mapping M lives (default
                                                   ./synthagent-mock-tools): one `<task id>.jsonl` per task,
                                                   appended under an exclusive `flock` on `<task id>.lock`, so
                                                   every rollout of a task in every AgentLoopWorker (and every
                                                   node, when the folder is on a shared file system with working
                                                   `flock`, e.g. NFSv4 or Lustre) sees and extends the same M
    fault_policy        SYNTHAGENT_FAULT_POLICY    what an unscored episode (a simulator or the judge failed
                                                   after retries) becomes: `drop` (default) masks the sample —
                                                   response_mask all 0, so it adds no token to the loss — and
                                                   gives it a placeholder reward of 0; `zero` keeps the mask and
                                                   scores it 0, as the authors' reward function did
    judge_concurrency   SYNTHAGENT_JUDGE_CONCURRENCY  judge calls in flight per worker process (default 16)
    judge_timeout_s     SYNTHAGENT_JUDGE_TIMEOUT_S    deadline for one episode's judging (default 300 s),
                                                   waiting for the gate included; past it the episode is unscored

Two settings are verl's own and are read where verl keeps them: `data.apply_chat_template_kwargs` (e.g.
`{enable_thinking: false}` for Qwen3's non-thinking mode, the paper's setting) and
`actor_rollout_ref.rollout.multi_turn.max_tool_response_length` (the authors used 4,096 characters).
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from synthagent.sim.kinds import RoutedTools, RoutedUsers

FaultPolicy = Literal["drop", "zero"]
DEFAULT_MOCK_STORE = "synthagent-mock-tools"
ENV = {"llm_config": "SYNTHAGENT_LLM_CONFIG", "mock_store": "SYNTHAGENT_MOCK_STORE",
       "fault_policy": "SYNTHAGENT_FAULT_POLICY", "judge_concurrency": "SYNTHAGENT_JUDGE_CONCURRENCY",
       "judge_timeout_s": "SYNTHAGENT_JUDGE_TIMEOUT_S"}


class LoopSettings(BaseModel):
    """The synthagent part of a verl run's configuration (hashable: one resource set per distinct value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm_config: Path | None = None
    mock_store: Path = Path(DEFAULT_MOCK_STORE)
    fault_policy: FaultPolicy = "drop"
    judge_concurrency: int = Field(default=16, ge=1)
    judge_timeout_s: float = Field(default=300.0, gt=0)

    @classmethod
    def resolve(cls, block: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> "LoopSettings":
        """The config block's values, each replaced by its environment variable when that is set."""
        environ = os.environ if environ is None else environ
        values = {k: v for k, v in dict(block or {}).items() if v is not None}
        for name, var in ENV.items():
            if environ.get(var):
                values[name] = environ[var]
        try:
            return cls.model_validate(values)
        except ValueError as err:
            raise ValueError(f"synthagent settings of the verl config (block `synthagent:` or {', '.join(ENV.values())}) "
                             f"are invalid: {err}") from None


@dataclass
class LoopStats:
    """Counts over every episode this process played: what the loop's metrics say, in one place."""

    episodes: int = 0
    unscored: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    judged: int = 0


class JudgeGate:
    """The judge's own concurrency limit and deadline: policy generation never waits behind a queue of
    judge calls longer than the deadline, and a slow judge makes an episode unscored, not a stuck step."""

    def __init__(self, judge: Any, concurrency: int, timeout_s: float):
        self.judge = judge
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.concurrency)
        return gate

    async def __call__(self, task: Any, trajectory: Any, items: list[Any]) -> Any:
        async def judged() -> Any:
            async with self._gate():
                return await self.judge(task, trajectory, items)

        return await asyncio.wait_for(judged(), self.timeout_s)


@dataclass
class LoopResources:
    settings: LoopSettings
    users: RoutedUsers
    tools: RoutedTools
    judge: JudgeGate | None
    stats: LoopStats = field(default_factory=LoopStats)


def build_resources(settings: LoopSettings) -> LoopResources:
    """User, tools and judge for every world kind: offline kinds use their own simulators; kinds simulated
    by a model get the LLM roles of `settings.llm_config` (M under `settings.mock_store`)."""
    if settings.llm_config is None:
        return LoopResources(settings, RoutedUsers(), RoutedTools(), None)
    from synthagent.rollout.policies import build_simulators

    simulators, judge = build_simulators(settings.llm_config, settings.mock_store)
    return LoopResources(settings, RoutedUsers(simulators), RoutedTools(simulators),
                         JudgeGate(judge, settings.judge_concurrency, settings.judge_timeout_s))


@functools.lru_cache(maxsize=8)
def loop_resources(settings: LoopSettings) -> LoopResources:
    """One resource set per process and settings: every loop of an AgentLoopWorker shares the client, the
    simulators (and so the in-memory M with its in-flight call sharing) and the judge gate."""
    return build_resources(settings)
