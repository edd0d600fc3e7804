"""The paper's tool + reasoning mix: reasoning-gym problems as our Tasks, exact-answer rewards, and a
sandboxed Python tool (optional extra: `pip install 'synthagent[reasoning]'`).

Each problem becomes a Task in domain "reasoning/<dataset>" with a `ReasoningWorld` (dataset, seed, size,
index: they regenerate the entry anywhere): the question is the instruction, the one tool is
`python(code)`, the rubric has one sub-goal ("the final answer is correct") whose check op
`reasoning_answer` asks reasoning-gym's own scorer (met only on a full score). There is nothing to ask the
user and nothing forbidden, so R(τ) = 1 for a correct <answer>, else 0; the gold plan is the answer.

This module is the "reasoning" world kind: importing it (the world-kind registry does, through the
`synthagent.world_kinds` entry point) registers the kind — the Python sandbox as its tools, the scripted
user (which has nothing to reveal) — and the check op. So a mixed task set of tool tasks and reasoning
problems trains in one TRL or verl run, as the paper's did (~15k tool tasks + ~4k math/search tasks),
with no judge and no special backend.

The sandbox runs code in a fresh `python -I` subprocess in an empty temporary folder, with an empty
environment, CPU-time, memory and output limits and a wall-clock timeout. It isolates mistakes, not
malice: use a container for untrusted models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from typing import Any

from synthagent.reward.checks import Facts, Verdict, register_check
from synthagent.sim.interfaces import ToolResult, UserSimulator
from synthagent.sim.kinds import Simulators, WorldKind, register_world_kind
from synthagent.spec.models import Check, FunctionDef, GoldAction, Rubric, RubricItem, Source, Task, ToolSpec
from synthagent.spec.worlds import ReasoningWorld

PYTHON_TOOL = ToolSpec(function=FunctionDef(
    name="python", description="Run Python 3 code in a sandbox and get what it prints (stdout and stderr).",
    parameters={"type": "object", "properties": {"code": {"type": "string", "description": "The program to run."}},
                "required": ["code"], "additionalProperties": False}),
    returns={"type": "string"}, kind="read")
POLICY = ["Solve the problem. You may run Python code with the python tool to compute or check results.",
          "Give only the final answer inside <answer></answer>."]
ANSWER_ITEM = "subgoal-answer"
ANSWER_CHECK = "reasoning_answer"
MAX_OUTPUT = 4000


def _require() -> Any:
    try:
        import reasoning_gym
    except ImportError as err:
        raise ImportError("the reasoning mix needs reasoning-gym: pip install 'synthagent[reasoning]'") from err
    return reasoning_gym


@lru_cache(maxsize=64)
def _dataset(name: str, seed: int, size: int) -> Any:
    return _require().create_dataset(name, seed=seed, size=size)


def reasoning_tasks(names: list[str] | tuple[str, ...], n: int, seed: int = 0) -> list[Task]:
    """n problems per dataset name, e.g. reasoning_tasks(["basic_arithmetic", "chain_sum"], 100)."""
    tasks = []
    for name in names:
        ds = _dataset(name, seed, n)
        for index in range(n):
            entry = ds[index]
            info = {"dataset": name, "seed": seed, "size": n, "index": index}
            task = Task(domain=f"reasoning/{name}", instruction=str(entry["question"]), tools=[PYTHON_TOOL],
                        policy=list(POLICY), user_background="You only want the answer to your question.",
                        workflow=["Work out the answer (optionally with the python tool).",
                                  "Give the final answer inside <answer></answer>."],
                        rubric=Rubric(subgoals=[RubricItem(id=ANSWER_ITEM, criterion="The final answer is correct "
                                                           "(reasoning-gym's exact-answer scorer).",
                                                           check=Check(op=ANSWER_CHECK))]),
                        gold=[GoldAction(kind="answer", text=str(entry["answer"]))], difficulty=1,
                        source=Source(generator=f"reasoning-gym/{name}", seed=seed, params=info),
                        world=ReasoningWorld(**info))
            tasks.append(task.with_id())
    return tasks


def score_answer(task: Task, answer: str | None) -> float:
    world = task.world
    if not isinstance(world, ReasoningWorld):
        raise ValueError(f"task {task.id}: a {world.kind} world is not a reasoning-gym problem")
    ds = _dataset(world.dataset, world.seed, world.size)
    return float(ds.score_answer(answer=answer, entry=ds[world.index]))


def reasoning_answer(f: Facts, args: dict[str, Any]) -> Verdict:
    """The `reasoning_answer` check op: reasoning-gym's own scorer on the final answer, met on a full score."""
    answer = f.trajectory.answer
    value = score_answer(f.task, answer) if answer is not None else 0.0
    return value >= 1.0, f"reasoning-gym score {value:.3f} for answer {answer!r}", len(f.trajectory.messages) - 1


# ------------------------------------------------------------------------------------------- sandbox


def _limits(cpu_s: int, memory_mb: int) -> Any:
    def apply() -> None:  # pragma: no cover - runs in the child
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))

    return apply if os.name == "posix" else None


def run_python(code: str, *, timeout_s: float = 10.0, cpu_s: int = 5, memory_mb: int = 512) -> tuple[str, bool]:
    """(output, error): stdout + stderr of `code`, truncated; error when it failed or timed out."""
    with tempfile.TemporaryDirectory(prefix="synthagent-py-") as cwd:
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, env={}, capture_output=True, text=True,
                                  timeout=timeout_s, preexec_fn=_limits(cpu_s, memory_mb))
        except subprocess.TimeoutExpired:
            return f"Error: timed out after {timeout_s:g} s", True
    out = (proc.stdout + proc.stderr).strip()
    if len(out) > MAX_OUTPUT:
        out = out[:MAX_OUTPUT] + f"\n… ({len(out) - MAX_OUTPUT} more characters)"
    return (out or "(no output)"), proc.returncode != 0


class PythonSession:
    def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        result = ToolResult(content="", name=name)
        if name != PYTHON_TOOL.name:
            return result.fail(f"unknown tool '{name}'. Available tools: python")
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as err:
            return result.fail(f"arguments are not valid JSON ({err.msg})")
        code = args.get("code") if isinstance(args, dict) else None
        if not isinstance(code, str):
            return result.fail("arguments: missing required argument 'code'")
        result.args = args
        result.content, result.error = run_python(code)
        return result


class PythonBackend:
    def session(self, task: Task) -> PythonSession:
        return PythonSession()


def _python_tools(_: Simulators) -> PythonBackend:
    return PythonBackend()


def _scripted_user(_: Simulators) -> UserSimulator:
    from synthagent.sim.users.scripted import ScriptedUser

    return ScriptedUser()


register_world_kind(WorldKind(name="reasoning", tools=_python_tools, user=_scripted_user, offline_gold=True,
                              description="a reasoning-gym problem, a sandboxed Python tool, its exact scorer"))
register_check(ANSWER_CHECK, reasoning_answer)
