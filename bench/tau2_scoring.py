"""τ²-bench side by side: scoring cost, and per-step overhead around the same τ² tool functions.

On the same τ² tasks and the same reference (gold) actions, in one process:

1. Scoring. Each task's gold trajectory (and, where the task has a write, the trajectory that skips the
   final write) is scored by our scorer (`synthagent.reward.scorer.score` over the compiled τ² rubric)
   and by τ²'s own evaluator (its environment, action and communicate evaluators, combined as
   `evaluate_simulation(ALL)` does; τ² builds two environments per scoring). Ours is timed cold (the
   task's reference end state not yet memoised: the first rollout of a task) and warm (every later
   rollout of it). The verdicts are compared too.
2. Per-step overhead. The same gold actions are played through our runtime (oracle policy, scripted
   user, `Tau2Backend`) and through τ²'s `Orchestrator` (a replaying agent, a user that answers), both
   calling τ²'s `Environment.get_response`. Time inside get_response is measured on both sides and
   subtracted: what is left, per message, is each runtime's own overhead. Environment setup is reported
   separately. τ²'s orchestrator imports litellm; without it, part 2 reports our side only.

Prints medians (ms) per domain and the ratios. Targets (issue 6): scoring ≥ 20× cheaper than τ²; per-step
overhead no more than τ²'s. Run: `python bench/tau2_scoring.py [--domains airline retail] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its price list

from synthagent.integrations.tau2 import Tau2Backend, import_tasks  # noqa: E402
from synthagent.integrations.tau2.env import WORLDS, domain_info  # noqa: E402
from synthagent.integrations.tau2.trajectories import tau2_reward, to_tau2_messages  # noqa: E402
from synthagent.reward.scorer import score  # noqa: E402
from synthagent.sim.reference import OraclePolicy  # noqa: E402
from synthagent.sim.runtime import run_episode_sync  # noqa: E402
from synthagent.sim.users.scripted import ScriptedUser  # noqa: E402
from synthagent.spec.models import Task, Trajectory  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class _Timer:
    """Wraps a callable and adds up the time spent in it."""

    def __init__(self, fn: Any):
        self.fn, self.total, self.calls = fn, 0.0, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.total += time.perf_counter() - t0
            self.calls += 1


class _TimedBackend(Tau2Backend):
    def __init__(self) -> None:
        super().__init__()
        self.timers: list[_Timer] = []
        self.setup = 0.0

    def session(self, task: Task) -> Any:
        t0 = time.perf_counter()
        session = super().session(task)
        self.setup = time.perf_counter() - t0
        timer = _Timer(session.env.get_response)
        session.env.get_response = timer
        self.timers.append(timer)
        return session


def _writes(task: Task) -> list[int]:
    return [i for i, a in enumerate(task.gold) if a.kind == "call" and task.tool(a.tool).kind == "write"]


def _variants(task: Task) -> dict[str, Task]:
    out = {"gold": task}
    if _writes(task):
        last = _writes(task)[-1]
        out["skip-final-write"] = task.model_copy(update={"gold": task.gold[:last] + task.gold[last + 1:]})
    return out


def _episode(task: Task, backend: Tau2Backend | None = None) -> Trajectory:
    trajectory = run_episode_sync(task, OraclePolicy(), ScriptedUser(), backend or Tau2Backend(),
                                  max_turns=len(task.gold) + 4)
    return trajectory


# ------------------------------------------------------------------------------------------- scoring


def bench_scoring(domain: str, tasks: list[Task], repeat: int) -> dict[str, Any]:
    cold, warm, theirs = [], [], []
    agree = disagree = 0
    notes = []
    for task in tasks:
        for name, variant in _variants(task).items():
            trajectory = _episode(variant).model_copy(update={"task_id": task.id})
            if name == "gold":
                WORLDS.clear(expected_only=True)  # cold: this task's reference end state not memoised yet
            t0 = time.perf_counter()
            ours = score(task, trajectory).reward
            t1 = time.perf_counter()
            if name == "gold":
                cold.append(t1 - t0)
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                score(task, trajectory)
                runs.append(time.perf_counter() - t0)
            warm.append(median(runs))
            messages = to_tau2_messages(trajectory)
            runs = []
            for _ in range(max(1, repeat // 2)):
                t0 = time.perf_counter()
                reward, _ = tau2_reward(task.metadata["tau2_task"], domain, messages)
                runs.append(time.perf_counter() - t0)
            theirs.append(median(runs))
            if (ours == 1.0) == (reward == 1.0):
                agree += 1
            else:
                disagree += 1
                notes.append(f"{domain} {task.metadata['tau2_id']} {name}: ours {ours}, τ² {reward}")
    return {"cold": cold, "warm": warm, "tau2": theirs, "agree": agree, "disagree": disagree, "notes": notes}


# ---------------------------------------------------------------------------------------- per step


def _tau2_orchestrator() -> Any:
    try:
        from tau2.orchestrator.orchestrator import Orchestrator
    except ImportError as err:
        return err
    return Orchestrator


def _tau2_players(task: Task) -> tuple[Any, Any]:
    """A τ² agent that replays our gold plan and a τ² user that opens with our instruction, then ends."""
    from tau2.agent.base import BaseAgent
    from tau2.data_model.message import AssistantMessage, ToolCall, UserMessage
    from tau2.user.base import BaseUser, UserState

    plan = task.gold

    class ReplayAgent(BaseAgent):
        def get_init_state(self, message_history: Any = None) -> int:
            return 0

        def generate_next_message(self, message: Any, state: int) -> tuple[Any, int]:
            if state >= len(plan):
                return AssistantMessage(role="assistant", content="Done."), state
            step = plan[state]
            if step.kind == "call":
                call = ToolCall(id=f"call_{state + 1}", name=step.tool or "", arguments=step.arguments or {})
                return AssistantMessage(role="assistant", content=None, tool_calls=[call]), state + 1
            return AssistantMessage(role="assistant", content=step.text or ""), state + 1

        def stop(self, message: Any = None, state: Any = None) -> None:
            return None

    class AnsweringUser(BaseUser):
        def get_init_state(self, message_history: Any = None) -> Any:
            return UserState(system_messages=[], messages=list(message_history or []))

        def generate_next_message(self, message: Any, state: Any) -> tuple[Any, Any]:
            text = task.instruction if not state.messages else "Thanks, that is all. ###STOP###"
            reply = UserMessage(role="user", content=text)
            state.messages.extend([message, reply])
            return reply, state

        @classmethod
        def is_stop(cls, message: Any) -> bool:
            return "###STOP###" in (message.content or "")

    return ReplayAgent(), AnsweringUser()


def _tau2_episode(orchestrator: Any, domain: str, task: Task) -> dict[str, float]:
    """One gold episode through τ²'s Orchestrator: env build, then `run()`; {} when τ² has no orchestrator."""
    import importlib

    from tau2.data_model.tasks import Task as Tau2Task

    if isinstance(orchestrator, Exception):
        return {}
    module = importlib.import_module(domain_info(domain).module)
    t0 = time.perf_counter()
    env = module.get_environment()
    setup = time.perf_counter() - t0
    timer = _Timer(env.get_response)
    env.get_response = timer
    agent, user = _tau2_players(task)
    run = orchestrator(domain=domain, agent=agent, user=user, environment=env,
                       task=Tau2Task.model_validate(task.metadata["tau2_task"]), max_steps=1000)
    t0 = time.perf_counter()
    simulation = run.run()
    elapsed = time.perf_counter() - t0
    return {"tau2": (elapsed - timer.total) / len(simulation.messages),
            "tau2_tool": timer.total / max(1, timer.calls), "tau2_setup": setup, "tau2_episode": setup + elapsed}


def bench_steps(domain: str, tasks: list[Task], repeat: int) -> dict[str, Any]:
    """Per message: time outside τ²'s get_response (ours: plus the copy-on-access record copies, which τ²
    does not need because it builds a whole environment up front); per episode: everything, setup included.

    Each task is played once untimed by each side first; the two sides then alternate. No forced garbage
    collection between episodes: a `gc.collect()` right before one makes it pay for touching freed memory
    afresh (it inflated our per-message figure threefold in trials), which no real rollout loop does.
    """
    from synthagent.integrations.tau2 import env as env_module

    orchestrator = _tau2_orchestrator()
    clone = _Timer(env_module._clone)
    env_module._clone = clone
    out: dict[str, list[float]] = {k: [] for k in ("ours", "ours_copies", "tau2", "ours_setup", "tau2_setup", "ours_tool",
                                                   "tau2_tool", "ours_episode", "tau2_episode")}
    try:
        for task in tasks:
            for attempt in range(repeat + 1):
                timed = attempt > 0  # the first round warms both sides up
                backend = _TimedBackend()
                clone.total = 0.0
                t0 = time.perf_counter()
                trajectory = _episode(task, backend)
                elapsed = time.perf_counter() - t0
                tool = sum(t.total for t in backend.timers) - clone.total  # copies count as our overhead
                if not timed:
                    _tau2_episode(orchestrator, domain, task)
                    continue
                # setup (the session's environment) is excluded on both sides, as τ²'s env build is
                out["ours"].append((elapsed - backend.setup - tool) / len(trajectory.messages))
                out["ours_copies"].append(clone.total / len(trajectory.messages))
                out["ours_tool"].append(tool / max(1, sum(t.calls for t in backend.timers)))
                out["ours_episode"].append(elapsed)
                out["ours_setup"].append(backend.setup)
                if isinstance(orchestrator, Exception):
                    continue
                result = _tau2_episode(orchestrator, domain, task)
                for key, value in result.items():
                    out[key].append(value)
    finally:
        env_module._clone = clone.fn
    return {**out, "orchestrator": None if not isinstance(orchestrator, Exception) else str(orchestrator)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=["airline", "retail"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="tasks per domain (0: all)")
    args = parser.parse_args()
    print("τ² scoring and per-step overhead, medians in ms (same tasks, same gold actions, one process)\n")
    for domain in args.domains:
        tasks = import_tasks(domain)
        if args.limit:
            tasks = tasks[:args.limit]
        s = bench_scoring(domain, tasks, args.repeat)
        n = len(s["warm"])
        cold, warm, theirs = median(s["cold"]), median(s["warm"]), median(s["tau2"])
        print(f"[{domain}] scoring {n} trajectories of {len(tasks)} tasks (gold and skip-final-write)")
        print(f"  τ² evaluator (2 env builds + hashes) {ms(theirs)}")
        print(f"  ours, warm (reference state memoised) {ms(warm)}   → {theirs / warm:7.1f}× cheaper")
        print(f"  ours, cold (first rollout of a task)  {ms(cold)}   → {theirs / cold:7.1f}× cheaper")
        print(f"  verdicts agree (reward 1 vs not) on {s['agree']}/{s['agree'] + s['disagree']}")
        for note in s["notes"]:
            print(f"    differs: {note}")
        st = bench_steps(domain, tasks, args.repeat)
        print(f"[{domain}] {len(tasks)} gold episodes: per-message overhead outside τ²'s get_response; whole episode")
        print(f"  ours (run_episode_sync + Tau2Backend) {ms(median(st['ours']))}   tool call {ms(median(st['ours_tool']))}"
              f"   episode {ms(median(st['ours_episode']))} (session setup {ms(median(st['ours_setup']))})")
        print(f"    of which copy-on-access record copies  {ms(median(st['ours_copies']))}"
              f"   (τ² instead builds the whole environment up front)")
        if st["orchestrator"]:
            print(f"  τ² Orchestrator unavailable ({st['orchestrator']}); install litellm to compare (docs/tau2.md)")
        else:
            print(f"  τ² Orchestrator                       {ms(median(st['tau2']))}   tool call {ms(median(st['tau2_tool']))}"
                  f"   episode {ms(median(st['tau2_episode']))} (env build     {ms(median(st['tau2_setup']))})")
            without = median([a - b for a, b in zip(st["ours"], st["ours_copies"])])
            print(f"  per-message overhead ours/τ²: {median(st['ours']) / median(st['tau2']):.2f}"
                  f" (runtime alone, copies excluded: {without / median(st['tau2']):.2f})   "
                  f"whole episode τ²/ours: {median(st['tau2_episode']) / median(st['ours_episode']):.0f}×")
        print()


if __name__ == "__main__":
    main()
