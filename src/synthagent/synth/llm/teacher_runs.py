"""Stage D: the teacher solves the task N times in the simulated environment.

The environment is the project's LLM user simulator (``sim.users.llm.LLMUser``) and LLM mock tools
(``sim.tools.llm_mock.LLMToolBackend`` with the per-task mapping M); the teacher plays the agent through
the ordinary episode runtime, so its runs are real :class:`~synthagent.spec.models.Trajectory` objects.

The N runs of a task are played one after another, not concurrently: they share M, and a fixed order
makes M, and therefore every prompt and every cached reply, the same in a resumed run as in an
uninterrupted one. Throughput comes from many tasks in flight, not from parallel runs of one task.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from synthagent.llm.client import BudgetExceeded, LLMCallError
from synthagent.rollout.openai_policy import to_message
from synthagent.sim.runtime import run_episode
from synthagent.sim.tools.llm_mock import LLMToolBackend
from synthagent.sim.tools.mapping import store_name
from synthagent.sim.users.llm import LLMUser
from synthagent.spec.models import Message, Task, Trajectory
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.stage_prompts import STAGE_LABELS
from synthagent.synth.llm.models import RunSummary

DEFAULT_RUNS = 3
DEFAULT_MAX_TURNS = 16
TOOL_CONTEXT_CAP = 40


class FailureWatch:
    """A view of the client that remembers the endpoint failures (a call that failed for good, a spent
    budget) of everything in a run: the teacher as the agent, the LLM user and the LLM tools. The runtime
    turns each into a ``fault`` episode so that a trainer can leave it unscored; stage D must not judge
    such a run either, or a spent budget or a server that is down becomes the task's discard, written as
    final, and a resumed run never redoes it (seen: "run 3: fault" in a unit whose run 3 the budget cut)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failures: list[BaseException] = []

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._client.chat(*args, **kwargs)
        except (LLMCallError, BudgetExceeded) as exc:
            self.failures.append(exc)
            raise

    def cause(self, trajectory: Trajectory) -> BaseException | None:
        """Why the run ended in a fault, when an endpoint failure did it: a spent budget first (the unit
        stops and resumes), else the last failed call (a unit error). None for a run that ended otherwise,
        or in a fault no call raised (a simulator that answered empty after its retries)."""
        if trajectory.fault is None or not self.failures:
            return None
        return next((f for f in self.failures if isinstance(f, BudgetExceeded)), self.failures[-1])

    def __getattr__(self, name: str) -> Any:  # config, usage... for code that inspects the client
        return getattr(self._client, name)


class TeacherPolicy:
    """The teacher as the agent (role "teacher"), through the run's `FailureWatch`."""

    name = "teacher"

    def __init__(self, client: Any) -> None:
        self.client = client

    def session(self, task: Task, seed: int) -> "_TeacherSession":
        return _TeacherSession(self, task, seed)


class _TeacherSession:
    def __init__(self, policy: TeacherPolicy, task: Task, seed: int) -> None:
        self.policy, self.task, self.seed = policy, task, seed

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        result = await self.policy.client.chat("teacher", [m.openai() for m in messages], tools or None,
                                               cache_salt=f"{self.task.id}:D:{self.seed}",
                                               stage=STAGE_LABELS["D"])
        return to_message(result.text, result.tool_calls)


def summarize_run(trajectory: Trajectory) -> RunSummary:
    """A run is usable when it ends with a final answer after at least one tool call that returned a
    result rather than an error: an answer reached only past failing tools (an argument the schema
    rejects, a tool the mock cannot serve) says nothing about whether the workflow can be carried out,
    and stage E would build gold actions from calls that never worked."""
    return RunSummary(termination=trajectory.termination, agent_turns=trajectory.counters.agent_turns,
                      tool_calls=trajectory.counters.tool_calls, user_turns=trajectory.counters.user_turns,
                      answered=trajectory.termination == "answer" and bool(trajectory.answer),
                      tool_results=working_tool_results(trajectory))


def working_tool_results(trajectory: Trajectory) -> int:
    """How many tool calls of the run returned a result rather than an error."""
    return sum(1 for m in trajectory.messages if m.role == "tool" and not m.error)


def reset_mapping(mocks_dir: Path, task_id: str) -> None:
    """Forget M of a task whose stage D did not finish: the rerun rebuilds it, call by call, from the cache."""
    stem = store_name(task_id)
    for suffix in (".jsonl", ".lock"):
        (mocks_dir / f"{stem}{suffix}").unlink(missing_ok=True)
    leftover = mocks_dir / stem
    if leftover.is_dir():  # pragma: no cover - defensive, for store layouts with a folder per task
        shutil.rmtree(leftover)


async def solve(client: Any, task: Task, *, runs: int = DEFAULT_RUNS, max_turns: int = DEFAULT_MAX_TURNS,
                mocks_dir: Path | None = None, tool_cap: int = TOOL_CONTEXT_CAP) -> list[Trajectory]:
    """Stage D: ``runs`` teacher episodes; rejects the unit when none is usable (a final answer after at
    least one tool call that worked, see `summarize_run`)."""
    if mocks_dir is not None:
        reset_mapping(mocks_dir, task.id)
    watch = FailureWatch(client)
    user = LLMUser(watch, stage="D.user")
    tools = LLMToolBackend(watch, mocks_dir, tool_cap, stage="D.tool")
    policy = TeacherPolicy(watch)
    trajectories: list[Trajectory] = []
    for run in range(runs):
        watch.failures.clear()
        trajectory = await run_episode(task, policy, user, tools, seed=run, sample=run, max_turns=max_turns)
        cause = watch.cause(trajectory)
        if cause is not None:
            raise cause
        trajectories.append(trajectory)
    if not any(summarize_run(t).usable for t in trajectories):
        ends = ", ".join(f"run {i + 1}: {describe_end(t)}" for i, t in enumerate(trajectories))
        raise StageRejected("D", "no_successful_run",
                            f"no teacher run reached a final answer after a tool call that worked ({ends})")
    return trajectories


def describe_end(trajectory: Trajectory) -> str:
    if trajectory.termination == "user_stop":
        return f"user stopped ({trajectory.meta.get('stop_reason')})"
    if trajectory.termination == "error":
        return f"error ({trajectory.meta.get('error', '')[:120]})"
    if trajectory.termination == "answer" and not trajectory.answer:
        return "empty answer"
    if trajectory.termination == "answer" and not working_tool_results(trajectory):
        counters = trajectory.counters
        return f"answer with no working tool call ({counters.tool_calls} calls, {counters.tool_errors} errors)"
    return trajectory.termination
