"""The paper's tool + reasoning mix: reasoning-gym problems as our Tasks, exact-answer rewards, and a
sandboxed Python tool (optional extra: `pip install 'synthagent[reasoning]'`).

Each problem becomes a Task in domain "reasoning/<dataset>": the question is the instruction, the one tool
is `python(code)`, the rubric has one sub-goal ("the final answer is correct") with no programmatic check,
graded by `exact_answer_judge`, which asks reasoning-gym's own scorer (met only on a full score). There
is nothing to ask the user and nothing forbidden, so R(τ) = 1 for a correct <answer>, else 0. The task
records (dataset, seed, size, index), which regenerate the entry anywhere; the gold plan is the answer.

`MixedBackend` sends reasoning tasks to the Python sandbox and everything else to the executable tools,
so one TRL `EnvironmentSuite(tasks, tools=MixedBackend(), judge=exact_answer_judge)` (or one verl run)
trains on both kinds, as the paper did (~15k tool tasks + ~4k math/search tasks).

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

from synthagent.sim.interfaces import ToolResult
from synthagent.spec.models import FunctionDef, GoldAction, ItemVerdict, Rubric, RubricItem, Source, Task, ToolSpec

PYTHON_TOOL = ToolSpec(function=FunctionDef(
    name="python", description="Run Python 3 code in a sandbox and get what it prints (stdout and stderr).",
    parameters={"type": "object", "properties": {"code": {"type": "string", "description": "The program to run."}},
                "required": ["code"], "additionalProperties": False}),
    returns={"type": "string"}, kind="read")
POLICY = ["Solve the problem. You may run Python code with the python tool to compute or check results.",
          "Give only the final answer inside <answer></answer>."]
ANSWER_ITEM = "subgoal-answer"
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
                                                           "(reasoning-gym's exact-answer scorer).")]),
                        gold=[GoldAction(kind="answer", text=str(entry["answer"]))], difficulty=1,
                        source=Source(generator=f"reasoning-gym/{name}", seed=seed, params=info),
                        metadata={"reasoning_gym": info})
            tasks.append(task.with_id())
    return tasks


def is_reasoning_task(task: Task) -> bool:
    return "reasoning_gym" in task.metadata


def score_answer(task: Task, answer: str | None) -> float:
    info = task.metadata["reasoning_gym"]
    ds = _dataset(info["dataset"], int(info["seed"]), int(info["size"]))
    return float(ds.score_answer(answer=answer, entry=ds[int(info["index"])]))


def exact_answer_judge(task: Task, trajectory: Any, items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
    """A programmatic 'judge' for the answer item of reasoning tasks (the scorer's judge slot)."""
    if not is_reasoning_task(task):
        raise ValueError(f"task {task.id} is not a reasoning-gym task; it needs an LLM judge for "
                         f"{', '.join(item.id for _, item in items)}")
    value = score_answer(task, trajectory.answer) if trajectory.answer is not None else 0.0
    return [ItemVerdict(id=item.id, section=section, criterion=item.criterion, met=value >= 1.0,
                        evidence=f"reasoning-gym score {value:.3f} for answer {trajectory.answer!r}",
                        message_index=len(trajectory.messages) - 1, method="check") for section, item in items]


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
            result.content, result.error = f"Error: unknown tool '{name}'. Available tools: python", True
            return result
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as err:
            result.content, result.error = f"Error: arguments are not valid JSON ({err.msg})", True
            return result
        code = args.get("code") if isinstance(args, dict) else None
        if not isinstance(code, str):
            result.content, result.error = "Error: arguments: missing required argument 'code'", True
            return result
        result.args = args
        result.content, result.error = run_python(code)
        return result


class PythonBackend:
    def session(self, task: Task) -> PythonSession:
        return PythonSession()


class MixedBackend:
    """Reasoning tasks → the Python sandbox; tasks with an executable world → the executable tools."""

    def __init__(self, other: Any = None):
        from synthagent.sim.tools.executable import ExecutableBackend

        self.python = PythonBackend()
        self.other = other or ExecutableBackend()

    def session(self, task: Task) -> Any:
        return self.python.session(task) if is_reasoning_task(task) else self.other.session(task)
