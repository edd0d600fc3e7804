"""GRPO rollouts in the runtime's text protocol, as TRL's `rollout_func`.

Why not `environment_factory`: TRL ends an environment rollout at the first assistant message without a
tool call, so there the agent can only reach the user through an `ask_user` tool (see `protocol`). The
paper, verl (`integrations/verl/episode.py`) and our runtime (`sim/runtime.py`) all use the *text*
protocol instead: plain text goes to the user, `<tool_call>` blocks go to the tools, `<answer>…</answer>`
ends the episode. Here every GRPO rollout is an episode of `sim.runtime.run_episode` itself — the same
loop `synthagent rollout` runs, with the same system prompt, user opening, turn limit and user-stop
rules — whose policy is the model being trained (`RecordingPolicy`): each turn it renders the conversation
with the tokenizer's chat template (tools passed as `tools=`, as `--policy hf:PATH` renders them),
samples one assistant turn, and records the tokens. The token sequence TRL trains on is the prompt, then
the model's own turns (mask 1) interleaved with what the user and the tools said (mask 0, TRL's
`env_mask`), each observation tokenized as the chat template renders it after an assistant turn, so the
sequence is the one the model saw while acting.

Rewards. Each episode is scored by the scorer (programmatic checks + the LLM judge where the rubric needs
it) inside the rollout, and handed to TRL through the `synthagent_reward` column, which the
`episode_reward` reward function returns. An episode whose user simulator, tool simulator or judge failed
after its retries is *unscored* (`Trajectory.fault`), never a crash. `fault_policy` says what GRPO does
with it:
- "drop" (default): the reward is None; TRL leaves the rollout out of its group's mean and std and gives
  it advantage 0, so it neither helps nor hurts (the group is scored on the rollouts that were scored);
- "zero": the reward is 0.0, as the authors' verl fork did — simple, but it punishes the agent for an
  infrastructure failure.
Either way the unscored count per role is logged (`synthagent/unscored_*`) and kept in `RolloutStats`.

Generation here is `transformers.generate`, one turn at a time under a lock, while the simulators' I/O
of other episodes overlaps it on the event loop; that is what a CPU or a single GPU needs. For a cluster,
verl's agent loop plays the same protocol against vLLM.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synthagent.integrations.trl.environment import run_sync
from synthagent.reward.scorer import RewardConfig, score_async
from synthagent.rollout.hf_policy import parse_assistant
from synthagent.sim.faults import simulator_fault
from synthagent.sim.interfaces import Policy, ToolBackend, ToolResult, UserReply, UserSimulator, resolve
from synthagent.sim.runtime import DEFAULT_MAX_TURNS, run_episode, system_prompt
from synthagent.spec.models import Fault, FunctionCall, Message, Task, ToolCall, Trajectory
from synthagent.worlds import derive_seed

FaultPolicy = Literal["drop", "zero"]
FAULT_POLICIES: tuple[str, ...] = ("drop", "zero")
REWARD_FIELD = "synthagent_reward"
UNSCORED_FIELD = "synthagent_unscored"

Generate = Callable[[list[int], int, int], Awaitable[list[int]]]
"""(the ids so far, max new tokens, seed) → the new token ids of one assistant turn."""


def _ids(value: Any) -> list[int]:
    if isinstance(value, dict) or hasattr(value, "keys"):
        value = value["input_ids"]
    return [int(x) for x in value]


def _chat_dict(message: Message) -> dict[str, Any]:
    out = message.openai()
    if out.get("tool_calls"):  # arguments as objects: every common template renders them right (see hf_policy)
        from synthagent.sim.tool_protocol import tool_call_dict

        out["tool_calls"] = [tool_call_dict(c["function"]["name"], c["function"]["arguments"], c.get("id"),
                                            structured=True) for c in out["tool_calls"]]
    return out


class ChatRenderer:
    """Token ids of a conversation's opening and of what the environment says after an assistant turn."""

    def __init__(self, tokenizer: Any, chat_template: str | None = None):
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        base = [{"role": "user", "content": "x"}]
        ids = self._render(base, None, generation_prompt=False)
        eos = tokenizer.eos_token_id
        cut = max((i for i, t in enumerate(ids) if t == eos), default=len(ids) - 1)
        self._base, self._prefix = base, ids[: cut + 1]

    def _render(self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *,
                generation_prompt: bool) -> list[int]:
        return _ids(self.tokenizer.apply_chat_template(conversation, tools=tools or None, tokenize=True,
                                                       add_generation_prompt=generation_prompt,
                                                       chat_template=self.chat_template, return_dict=False))

    def prompt(self, messages: list[Message], tools: list[dict[str, Any]]) -> list[int]:
        """The opening (system prompt, the user's first turn) with the generation prompt, tools in the template."""
        return self._render([_chat_dict(m) for m in messages], tools, generation_prompt=True)

    def observation(self, messages: list[Message]) -> list[int]:
        """Tool results / a user reply as the template renders them after an assistant turn's end-of-turn
        token, up to and including the next generation prompt."""
        ids = self._render(self._base + [_chat_dict(m) for m in messages], None, generation_prompt=True)
        if ids[: len(self._prefix)] != self._prefix:
            raise ValueError("the chat template does not render a prefix-stable conversation")
        return ids[len(self._prefix):]


@dataclass
class TokenTrace:
    """What TRL trains on for one rollout: prompt ids, then completion ids with the env mask (1: the model's)."""

    prompt_ids: list[int] = field(default_factory=list)
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)
    budget_spent: bool = False

    def add(self, ids: list[int], mask: int, budget: int) -> None:
        ids = ids[: max(0, budget - len(self.completion_ids))]
        self.completion_ids += ids
        self.env_mask += [mask] * len(ids)


class BudgetSpent(Exception):
    """The episode used its completion-token budget (TRL's max_completion_length): it ends like a turn limit."""


class RecordingPolicy:
    """One episode's policy: the model being trained, speaking the text protocol, recording its tokens.

    Build one per episode (the trace is the episode's); the runtime asks it for a session once."""

    name = "trl"

    def __init__(self, renderer: ChatRenderer, generate: Generate, *, max_new_tokens: int, budget: int,
                 stop_ids: list[int]):
        self.renderer, self.generate = renderer, generate
        self.max_new_tokens, self.budget, self.stop_ids = max_new_tokens, budget, stop_ids
        self.trace = TokenTrace()
        self.error: BaseException | None = None  # a generation failure: ours, re-raised after the episode

    def session(self, task: Task, seed: int) -> "_RecordingSession":
        return _RecordingSession(self, task, seed)


class _RecordingSession:
    def __init__(self, policy: RecordingPolicy, task: Task, seed: int):
        self.policy, self.task, self.seed = policy, task, seed
        self.seen = 0
        self.turn = 0

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        p, trace = self.policy, self.policy.trace
        try:
            if self.seen == 0:
                trace.prompt_ids = p.renderer.prompt(messages, tools)
            else:  # the agent's own last turn is already in the trace, as sampled
                said = [m for m in messages[self.seen:] if m.role != "assistant"]
                trace.add(p.renderer.observation(said), 0, p.budget)
            self.seen = len(messages)
            room = p.budget - len(trace.completion_ids)
            if room <= 0:
                trace.budget_spent = True
                raise BudgetSpent(f"{p.budget} completion tokens used")
            self.turn += 1
            new = await p.generate(trace.prompt_ids + trace.completion_ids, min(p.max_new_tokens, room),
                                   derive_seed(self.task.id, self.seed, self.turn))
            trace.add(new, 1, p.budget)
            if (not new or new[-1] not in p.stop_ids) and len(trace.completion_ids) < p.budget:
                trace.add(p.stop_ids[:1], 0, p.budget)  # a turn cut at max_new_tokens: closed as the template would
        except BudgetSpent:
            raise
        except Exception as err:
            p.error = err
            raise
        text = p.renderer.tokenizer.decode([t for t in new if t not in p.stop_ids], skip_special_tokens=False)
        content, calls = parse_assistant(text)
        tool_calls = [ToolCall(id=f"call_{self.turn}_{i}", function=FunctionCall(name=name, arguments=args))
                      for i, (name, args) in enumerate(calls)]
        return Message(role="assistant", actor="agent", content=content or None, tool_calls=tool_calls or None)


class HFGenerator:
    """`Generate` over a transformers causal LM: one sampled turn, serialised by a lock (one model), run in
    a worker thread so the event loop keeps serving the simulators of other episodes meanwhile."""

    def __init__(self, model: Any, tokenizer: Any, *, temperature: float = 1.0, top_p: float = 1.0,
                 top_k: int = 0, stop_ids: list[int] | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.temperature, self.top_p, self.top_k = temperature, top_p, top_k
        self.stop_ids = stop_ids or stop_ids_of(tokenizer)
        self._lock = threading.Lock()

    async def __call__(self, ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
        return await asyncio.to_thread(self._generate, ids, max_new_tokens, seed)

    def _generate(self, ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
        import torch

        device = next(self.model.parameters()).device
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "eos_token_id": self.stop_ids,
                                  "pad_token_id": self.tokenizer.pad_token_id or self.stop_ids[0]}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k or None)
        else:
            kwargs.update(do_sample=False)
        with self._lock, torch.no_grad():
            torch.manual_seed(seed % (2**31))
            input_ids = torch.tensor([ids], device=device)
            out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
        new = out[0, len(ids):].tolist()
        for i, token in enumerate(new):
            if token in self.stop_ids:
                return new[: i + 1]
        return new


def stop_ids_of(tokenizer: Any) -> list[int]:
    ids = [tokenizer.eos_token_id]
    if "<|im_end|>" in tokenizer.get_vocab():
        ids.append(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    return [i for i in dict.fromkeys(ids) if i is not None]


# ------------------------------------------------------------------------------- one scored episode


class _GuardedTools:
    """A tool backend whose unexpected exceptions become an error observation and a recorded fault."""

    def __init__(self, inner: ToolBackend, faults: list[Fault]):
        self.inner, self.faults = inner, faults

    def session(self, task: Task) -> Any:
        inner, faults = self.inner.session(task), self.faults

        class Session:
            async def call(self, name: str, arguments: str) -> ToolResult:
                try:
                    return await resolve(inner.call(name, arguments))
                except Exception as err:
                    if _is_budget(err):
                        raise
                    faults.append(Fault(role="tools", message=f"{type(err).__name__}: {err}"))
                    return ToolResult(content="Error: tool simulator unavailable", error=True, name=name)

            def metrics(self) -> dict[str, float]:
                extra = getattr(inner, "metrics", None)
                return extra() if callable(extra) else {}

        return Session()


class _GuardedUsers:
    """A user simulator whose unexpected exceptions end the episode as a user fault."""

    def __init__(self, inner: UserSimulator):
        self.inner = inner

    def session(self, task: Task, seed: int) -> Any:
        inner = self.inner.session(task, seed)

        class Session:
            def opening(self) -> Any:
                return inner.opening()

            async def reply(self, agent_text: str, history: list[Message]) -> UserReply:
                try:
                    return await resolve(inner.reply(agent_text, history))
                except Exception as err:
                    if _is_budget(err):
                        raise
                    return UserReply(text="", stop=True, stop_reason="fault", fault=f"{type(err).__name__}: {err}")

            def metrics(self) -> dict[str, float]:
                extra = getattr(inner, "metrics", None)
                return extra() if callable(extra) else {}

        return Session()


def _is_budget(err: BaseException) -> bool:
    """A spent LLM token budget is a decision to stop, not a fault: it propagates."""
    return type(err).__name__ == "BudgetExceeded"


def _is_judge_failure(err: BaseException) -> bool:
    """The judge's endpoint or output failed after retries (JudgeError, or an LLM error that escaped it)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    return "JudgeError" in names or ("LLMError" in names and not _is_budget(err))


async def play_scored(task: Task, policy: Policy, user: UserSimulator, tools: ToolBackend, judge: Any, *,
                      seed: int, max_turns: int = DEFAULT_MAX_TURNS,
                      reward_config: RewardConfig = RewardConfig()) -> Trajectory:
    """One runtime episode, scored; a simulator or judge failure leaves it unscored (`fault` set) instead of
    raising. Shared by the TRL rollouts and `bench/rl_rollouts.py`."""
    tool_faults: list[Fault] = []
    traj = await run_episode(task, policy, _GuardedUsers(user), _GuardedTools(tools, tool_faults), seed=seed,
                             max_turns=max_turns)
    fault = simulator_fault(traj) or (tool_faults[0] if tool_faults else None)
    if fault is not None:
        traj.fault, traj.termination = fault, "fault"
        return traj
    try:
        traj.result = await score_async(task, traj, reward_config, judge=judge)
    except Exception as err:
        if not _is_judge_failure(err):
            raise
        traj.fault, traj.termination = Fault(role="judge", message=str(err)), "fault"
    return traj


def trainer_reward(traj: Trajectory, fault_policy: FaultPolicy) -> float | None:
    """The number GRPO gets for an episode: its rubric reward; for an unscored one, None ("drop") or 0.0."""
    if traj.fault is not None or traj.result is None:
        return None if fault_policy == "drop" else 0.0
    return traj.result.reward


# --------------------------------------------------------------------------------- TRL's rollout_func


@dataclass
class RolloutStats:
    """Counts over every rollout so far (written to the run's report)."""

    episodes: int = 0
    unscored: Counter = field(default_factory=Counter)
    judge_calls: int = 0
    tool_calls: int = 0
    tool_cache_hits: int = 0
    tool_model_calls: int = 0
    budget_spent: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)  # per group: task id, rewards (None: unscored)

    def to_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "unscored": dict(self.unscored), "judge_calls": self.judge_calls,
                "tool_calls": self.tool_calls, "tool_cache_hits": self.tool_cache_hits,
                "tool_model_calls": self.tool_model_calls, "budget_spent": self.budget_spent, "groups": self.groups}


class _CountingJudge:
    def __init__(self, inner: Any, stats: RolloutStats):
        self.inner, self.stats = inner, stats

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.stats.judge_calls += 1
        return await self.inner(*args, **kwargs)


def prompt_key(prompt: Any) -> str:
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


class TextRollouts:
    """Tasks + simulators + judge → TRL's `rollout_func` (text protocol) and its dataset rows.

    `GRPOTrainer(model, args=…, **rollouts.trainer_kwargs())`. Each dataset row's prompt is the episode's
    opening (system prompt + instruction), which identifies its task; tasks whose opening repeats an
    earlier task's cannot be told apart by TRL and are left out (`duplicates`)."""

    def __init__(self, tasks: list[Task], *, user: UserSimulator, tools: ToolBackend, judge: Any, tokenizer: Any,
                 reward_config: RewardConfig = RewardConfig(), fault_policy: FaultPolicy = "drop",
                 max_turns: int = DEFAULT_MAX_TURNS, max_new_tokens: int = 256, concurrency: int = 64,
                 seed: int = 0, chat_template: str | None = None, log_path: Path | None = None):
        if fault_policy not in FAULT_POLICIES:
            raise ValueError(f"fault_policy: expected one of {', '.join(FAULT_POLICIES)}, got {fault_policy!r}")
        self.user, self.tools, self.tokenizer = user, tools, tokenizer
        self.stats = RolloutStats()
        self.judge = _CountingJudge(judge, self.stats) if judge is not None else None
        self.reward_config, self.fault_policy = reward_config, fault_policy
        self.max_turns, self.max_new_tokens, self.concurrency, self.seed = max_turns, max_new_tokens, concurrency, seed
        self.renderer = ChatRenderer(tokenizer, chat_template)
        self.stop_ids = stop_ids_of(tokenizer)
        self.tasks: list[Task] = []
        self.duplicates: list[str] = []
        self._by_prompt: dict[str, Task] = {}
        for task in tasks:
            key = prompt_key(self.opening(task))
            if key in self._by_prompt:
                self.duplicates.append(task.id)
                continue
            self._by_prompt[key] = task
            self.tasks.append(task)
        self._episodes = 0
        self.log_path = log_path  # every episode, appended as JSONL (what `synthagent report` reads)
        self.last_batch: list[Trajectory] = []

    @staticmethod
    def opening(task: Task) -> list[dict[str, str]]:
        return [{"role": "system", "content": system_prompt(task)}, {"role": "user", "content": task.instruction}]

    def rows(self) -> list[dict[str, Any]]:
        return [{"prompt": self.opening(t), "task_id": t.id, "domain": t.domain} for t in self.tasks]

    def dataset(self) -> Any:
        from datasets import Dataset

        return Dataset.from_list(self.rows())

    def trainer_kwargs(self) -> dict[str, Any]:
        return {"train_dataset": self.dataset(), "reward_funcs": [episode_reward], "rollout_func": self}

    def task_of(self, prompt: Any) -> Task:
        try:
            return self._by_prompt[prompt_key(prompt)]
        except KeyError:
            raise KeyError("a prompt TRL handed over matches no task of this rollout set") from None

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        args = trainer.args
        model = trainer.accelerator.unwrap_model(trainer.model)
        generate = HFGenerator(model, self.tokenizer, temperature=args.temperature, top_p=args.top_p,
                               top_k=args.top_k or 0, stop_ids=self.stop_ids)
        tasks = [self.task_of(p) for p in prompts]
        played = run_sync(self.play(tasks, generate, budget=args.max_completion_length))
        return self.collect(tasks, played, getattr(trainer, "num_generations", 1))

    async def play(self, tasks: list[Task], generate: Generate, *, budget: int
                   ) -> list[tuple[Trajectory, TokenTrace]]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(task: Task) -> tuple[Trajectory, TokenTrace]:
            self._episodes += 1
            seed = derive_seed(self.seed, task.id, self._episodes)
            policy = RecordingPolicy(self.renderer, generate, max_new_tokens=self.max_new_tokens, budget=budget,
                                     stop_ids=self.stop_ids)
            async with gate:
                traj = await play_scored(task, policy, self.user, self.tools, self.judge, seed=seed,
                                         max_turns=self.max_turns, reward_config=self.reward_config)
            if policy.error is not None:
                raise policy.error  # the model itself failed to generate: that is a bug, not an outcome
            if policy.trace.budget_spent:  # the runtime saw the policy raise; it is a turn limit in tokens
                traj.meta.pop("error", None)
                traj.meta["stop"] = "token_budget"
                if traj.fault is None and traj.termination == "error":
                    traj.termination = "max_turns"
            return traj, policy.trace

        return list(await asyncio.gather(*(one(t) for t in tasks)))

    def collect(self, tasks: list[Task], played: list[tuple[Trajectory, TokenTrace]], group: int) -> dict[str, Any]:
        rewards, unscored = [], []
        self.last_batch = [traj for traj, _ in played]
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.writelines(traj.model_dump_json() + "\n" for traj in self.last_batch)
        for traj, trace in played:
            self.stats.episodes += 1
            if traj.fault is not None:
                self.stats.unscored[traj.fault.role] += 1
            self.stats.budget_spent += int(trace.budget_spent)
            self.stats.tool_calls += traj.counters.tool_calls
            self.stats.tool_cache_hits += int(traj.metrics.get("tool_cache_hits", 0))
            self.stats.tool_model_calls += int(traj.metrics.get("tool_model_calls", 0))
            rewards.append(trainer_reward(traj, self.fault_policy))
            unscored.append(traj.fault.role if traj.fault is not None else "")
        for start in range(0, len(tasks), max(group, 1)):
            self.stats.groups.append({"task_id": tasks[start].id, "rewards": rewards[start:start + group]})
        return {"prompt_ids": [trace.prompt_ids for _, trace in played],
                "completion_ids": [trace.completion_ids for _, trace in played],
                "env_mask": [trace.env_mask for _, trace in played],
                "logprobs": None, REWARD_FIELD: rewards, UNSCORED_FIELD: unscored}


def episode_reward(completions: list[Any] | None = None, log_metric: Callable[[str, float], None] | None = None,
                   **columns: Any) -> list[float | None]:
    """TRL reward function: the rubric reward each rollout earned (None for an unscored one under "drop",
    which TRL leaves out of the group baseline with advantage 0)."""
    rewards = columns.get(REWARD_FIELD)
    if rewards is None:
        raise ValueError(f"no {REWARD_FIELD!r} column: episode_reward works with TextRollouts as the rollout_func")
    roles = [r for r in columns.get(UNSCORED_FIELD, []) if r]
    if log_metric is not None and rewards:
        log_metric("synthagent/unscored", len(roles) / len(rewards))
        for role in ("user", "tools", "judge"):
            log_metric(f"synthagent/unscored_{role}", roles.count(role) / len(rewards))
    return list(rewards)
