"""Our tasks as a TRL `environment_factory`: one environment instance per rollout, tools as methods.

TRL's GRPOTrainer (≥ 1.0, experimental API) builds one environment per rollout, calls `reset(**row)` with
the dataset row, exposes every public method as a tool (schema from type hints and docstring), runs the
tool calls the model makes, and, when the class defines `get_reward()`, adds it as a reward source. Tools
differ from task to task, so `EnvironmentSuite` generates one environment class per distinct tool set
(one method per tool, plus `ask_user`) and hands TRL a dict factory keyed by the dataset's `environment`
column; each prompt then shows exactly its task's tools.

The episode is recorded in the runtime's message format and scored by the same scorer as a runtime
episode: `get_reward()` is the rubric reward R(τ). The one thing an environment cannot see is the final
assistant message (it has no tool call, so TRL never routes it here); the `record_answers` reward
function, which `trainer_kwargs()` puts in `reward_funcs`, hands it over before `get_reward()` runs and
itself contributes nothing (it returns None, which TRL ignores).

Procedural tasks run on the scripted user and executable tools; LLM-simulated tasks plug in any
`UserSimulator` / `ToolBackend` from `sim.interfaces` (coroutine-returning ones run on a private event
loop thread), and a judge for rubric items without a programmatic check.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from synthagent.sim import tool_protocol as protocol
from synthagent.reward.scorer import RewardConfig, score_async
from synthagent.sim.interfaces import ToolBackend, UserSimulator
from synthagent.sim.kinds import RoutedTools, RoutedUsers, Simulators, world_kind
from synthagent.sim.metrics import user_metrics
from synthagent.sim.runtime import DEFAULT_MAX_TURNS
from synthagent.spec.models import Counters, Message, RubricResult, Task, Trajectory
from synthagent.worlds import derive_seed

ENDED = "Error: the conversation with the user has ended; give your final answer now."
TURN_LIMIT = "Error: turn limit reached; give your final answer now."

# --------------------------------------------------------------------------- coroutines from sync code

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="synthagent-env-loop", daemon=True).start()
            _loop = loop
    return _loop


def run_sync(value: Any) -> Any:
    """The value, or the result of awaiting it on the private loop (LLM simulators are coroutines)."""
    if inspect.isawaitable(value):
        async def wait() -> Any:
            return await value
        return asyncio.run_coroutine_threadsafe(wait(), _background_loop()).result()
    return value


# ------------------------------------------------------------------------------------ the environment


class SynthAgentEnv:
    """Base class of the generated environments; `EnvironmentSuite.environment_class` adds the tools.

    Every public method is a tool for TRL, so episode state lives in underscore names and is read through
    the `task`, `trajectory` and `result` properties (TRL does not evaluate properties).
    """

    suite: "EnvironmentSuite"

    def __init__(self) -> None:
        self._task: Task | None = None
        self._messages: list[Message] = []
        self._counters = Counters()
        self._termination = "max_turns"
        self._stop_reason: str | None = None
        self._answer: str | None = None
        self._result: RubricResult | None = None
        self._seed = 0
        self._user: Any = None
        self._tools: Any = None
        self._ended = False
        self._episodes = 0

    def reset(self, **row: Any) -> str | None:
        """Start an episode of the row's task; the prompt already holds the instruction, so nothing to add."""
        task = self.suite.task_for(row)
        self._task = task
        self._episodes += 1
        self._seed = derive_seed(self.suite.seed, task.id, self.suite.next_episode())
        self._user = self.suite.user.session(task, self._seed)
        self._tools = self.suite.tools.session(task)
        self._messages = [Message(role="system", actor="system", content=protocol.tool_system_prompt(task)),
                          Message(role="user", actor="user", content=task.instruction)]
        self._counters = Counters(user_turns=1)
        self._termination, self._stop_reason, self._answer, self._result = "max_turns", None, None, None
        self._ended = False
        return None

    def ask_user(self, question: str):  # no return hint: it would enter the schema TRL shows
        """Ask the user a question, or ask them to confirm an action, and get their reply.

        Args:
            question: What to ask the user, in one or two sentences.
        """
        refusal = self._refusal()
        if refusal:
            return refusal
        text = question if isinstance(question, str) else json.dumps(question)
        self._messages.append(Message(role="assistant", actor="agent", content=text))
        self._counters.agent_turns += 1
        reply = run_sync(self._user.reply(text, self._messages))
        self._counters.user_turns += 1
        self._messages.append(Message(role="user", actor="user", content=reply.text, error=reply.fault is not None))
        if reply.stop:
            self._ended = True
            self._termination, self._stop_reason = "user_stop", reply.stop_reason
        return reply.text

    def get_reward(self) -> float:
        """The rubric reward of the episode (TRL calls it once the rollout is complete)."""
        traj = self.trajectory
        assert self._task is not None
        self._result = run_sync(score_async(self._task, traj, self.suite.reward_config, judge=self.suite.judge))
        if self.suite.on_reward is not None:
            self.suite.on_reward(self)
        return self._result.reward

    @property
    def task(self) -> Task | None:
        return self._task

    @property
    def result(self) -> RubricResult | None:
        """The last `get_reward()` verdicts."""
        return self._result

    @property
    def trajectory(self) -> Trajectory:
        """The episode so far, in the runtime's format (what the scorer grades)."""
        task = self._require_task()
        meta = {"stop_reason": self._stop_reason} if self._termination == "user_stop" else {}
        traj = Trajectory(task_id=task.id, domain=task.domain, difficulty=task.difficulty, policy="trl",
                          seed=self._seed, messages=list(self._messages), termination=self._termination,
                          answer=self._answer, counters=self._counters.model_copy(), meta=meta)
        traj.metrics = user_metrics(task, traj)
        return traj

    def _refusal(self) -> str | None:
        self._require_task()
        if self._ended or self._termination == "answer":
            return ENDED
        if self._counters.agent_turns >= self.suite.max_turns:
            return TURN_LIMIT
        return None

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        refusal = self._refusal()
        if refusal:
            return refusal
        call_id = f"call_{len(self._messages)}"
        args = {k: v for k, v in arguments.items() if v is not None}
        self._messages.append(protocol.agent_call_message(name, args, call_id))
        self._counters.agent_turns += 1
        result = run_sync(self._tools.call(name, json.dumps(args, ensure_ascii=False)))
        self._counters.tool_calls += 1
        self._counters.tool_errors += int(result.error)
        self._messages.append(Message(role="tool", actor="tool", content=result.content, tool_call_id=call_id,
                                      name=name, error=result.error))
        return result.content

    def _record_final(self, message: dict[str, Any] | str | None) -> None:
        """The rollout's last assistant message (no tool calls): the final answer."""
        if self._task is None or self._termination == "answer" or self._ended:
            return
        text = message.get("content") if isinstance(message, dict) else message
        if text is None:
            return
        self._messages.append(Message(role="assistant", actor="agent", content=text))
        self._counters.agent_turns += 1
        self._answer = protocol.final_answer(text)
        self._termination = "answer"

    def _require_task(self) -> Task:
        if self._task is None:
            raise RuntimeError("call reset() before using the environment")
        return self._task


def make_tool_function(spec: Any) -> Callable[..., str]:
    """A method named after the tool, with a signature and docstring from which transformers derives the
    schema that `protocol.derived_schema` predicts; it forwards its keyword arguments to the backend."""
    name = spec.name

    def tool(self: SynthAgentEnv, **kwargs: Any) -> str:
        return self._call(name, kwargs)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for arg, schema, required in protocol.parameter_list(spec):
        hint = protocol.annotation(schema, required)
        annotations[arg] = hint
        params.append(inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, annotation=hint,
                                        default=inspect.Parameter.empty if required else None))
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = protocol.function_docstring(spec)
    tool.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    tool.__annotations__ = annotations
    return tool


def toolset_key(task: Task) -> str:
    blob = json.dumps(protocol.tool_schemas(task), sort_keys=True).encode()
    return f"{task.domain}-{hashlib.sha256(blob).hexdigest()[:10]}"


# ----------------------------------------------------------------------------------------- the suite


@dataclass
class EnvironmentSuite:
    """Tasks plus the simulators that play them; builds TRL's environment factories and dataset rows."""

    tasks: list[Task]
    user: UserSimulator | None = None
    tools: ToolBackend | None = None
    judge: Any = None
    simulators: Simulators = Simulators()
    reward_config: RewardConfig = RewardConfig()
    max_turns: int = DEFAULT_MAX_TURNS
    seed: int = 0
    # called with the environment after each get_reward(): a trainer's per-rollout log (group spreads, pass rates)
    on_reward: Callable[[SynthAgentEnv], None] | None = None
    _by_id: dict[str, Task] = field(default_factory=dict, init=False, repr=False)
    _classes: dict[str, type] = field(default_factory=dict, init=False, repr=False)
    _episodes: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.user is None or self.tools is None:
            # each task gets its world kind's simulators; kinds that need a model get the configured LLM roles
            needing = [t.id for t in self.tasks if world_kind(t).needs_model]
            if needing and (self.simulators.user is None or self.simulators.tools is None):
                raise ValueError(f"{len(needing)} task(s) (first: {needing[0]}) are simulated by a model; pass "
                                 "simulators=Simulators(user=…, tools=…) (or user=…, tools=…)")
            self.user = self.user or RoutedUsers(self.simulators)
            self.tools = self.tools or RoutedTools(self.simulators)
        for task in self.tasks:
            self._by_id[task.id] = task
            key = toolset_key(task)
            if key not in self._classes:
                self._classes[key] = self.environment_class(task, key)

    def environment_class(self, task: Task, key: str) -> type:
        protocol.check_tool_names(task.tools)
        methods: dict[str, Any] = {spec.name: make_tool_function(spec) for spec in task.tools}
        methods["suite"] = self
        methods["toolset"] = key
        safe = "".join(ch if ch.isalnum() else "_" for ch in key)
        return type(f"SynthAgentEnv_{safe}", (SynthAgentEnv,), methods)

    def next_episode(self) -> int:
        """A counter for per-episode seeds: rollouts of one task get different (reproducible) users."""
        self._episodes += 1
        return self._episodes

    def task_for(self, row: dict[str, Any]) -> Task:
        task_id = row.get("task_id")
        if task_id in self._by_id:
            return self._by_id[task_id]
        blob = row.get("task")
        if isinstance(blob, str) and blob:
            task = Task.model_validate_json(blob)
            self._by_id[task.id] = task
            return task
        raise KeyError(f"row names task {task_id!r}, which this suite does not hold (and the row embeds no task)")

    def factories(self) -> dict[str, Callable[[], SynthAgentEnv]]:
        """TRL's dict `environment_factory`: {toolset key: environment class}."""
        return dict(self._classes)

    def row(self, task: Task, embed_task: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {"prompt": protocol.prompt_messages(task), "environment": toolset_key(task),
                               "task_id": task.id, "domain": task.domain, "difficulty": task.difficulty}
        if embed_task:
            row["task"] = task.model_dump_json()
        return row

    def rows(self, embed_task: bool = False) -> list[dict[str, Any]]:
        return [self.row(task, embed_task) for task in self.tasks]

    def dataset(self) -> Any:
        from datasets import Dataset

        return Dataset.from_list(self.rows())

    def trainer_kwargs(self) -> dict[str, Any]:
        """Splat into `GRPOTrainer(model, args=…, **suite.trainer_kwargs())`."""
        return {"environment_factory": self.factories(), "train_dataset": self.dataset(),
                "reward_funcs": [record_answers]}

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], **options: Any) -> "EnvironmentSuite":
        """Rebuild a suite from exported rows (`synthagent export --format trl` embeds each task)."""
        tasks = []
        for number, row in enumerate(rows, start=1):
            blob = row.get("task")
            if not isinstance(blob, str) or not blob:
                raise ValueError(f"row {number}: no embedded task (column 'task')")
            tasks.append(Task.model_validate_json(blob))
        return cls(tasks, **options)


def record_answers(completions: list[Any] | None = None, environments: list[Any] | None = None,
                   **kwargs: Any) -> list[None]:
    """A reward function that scores nothing: it hands each rollout's final message to its environment,
    so `get_reward()` (which TRL calls after it) sees the answer."""
    completions = completions or []
    for completion, env in zip(completions, environments or [], strict=False):
        if not isinstance(env, SynthAgentEnv):
            continue
        last = completion[-1] if isinstance(completion, list) and completion else None
        if isinstance(last, dict) and last.get("role") == "assistant" and not last.get("tool_calls"):
            env._record_final(last)
    return [None] * len(completions)
