"""One multi-turn episode at the token level, as verl's agent loop needs it, without importing verl.

verl trains on one token sequence per rollout: the prompt, then the response = the model's own turns
(mask 1) interleaved with what the environment said (tool results and user replies, mask 0). This module
runs that loop against our simulators:

- the prompt is the row's `raw_prompt` (the SynthAgent release layout: tools in the system message,
  the task description as the user's opening), rendered with the tokenizer's chat template;
- the model's turn is parsed for `<tool_call>{…}</tool_call>` blocks (Hermes / Qwen format): each call goes
  to our tool backend; a turn without tool calls goes to the user simulator, unless it holds
  <answer>…</answer>, which ends the episode; a user stop, the turn limit or the response budget also end it;
- observations are tokenized as the chat template renders them after an assistant turn (the template's
  suffix for the new messages, aligned at the end-of-turn token), so the sequence the trainer sees is
  the one the model would see at inference.

The episode is also recorded as our `Trajectory`, so the reward is exactly what `synthagent score`
computes for it.

Infrastructure failures are outcomes, not crashes: a user simulator that gives up (`UserReply.fault`), a
tool simulator whose endpoint fails for good (`ToolResult.fault`), or a
judge that fails or misses its deadline ends or marks the episode with `Trajectory.fault`, and the episode
is *unscored* (`EpisodeOutput.reward` is None). What the trainer does with it is the agent loop's fault
policy, not this module's.

Two settings follow verl's own knobs: `chat_template_kwargs` (verl's `data.apply_chat_template_kwargs`,
e.g. `enable_thinking=False` for Qwen3's non-thinking mode) go to every `apply_chat_template` call, and a
tool response longer than `max_tool_response_chars` is cut (the authors used 4,096 characters); the
trajectory records what the agent saw.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from synthagent.reward.scorer import RewardConfig, ScoringError, score_async
from synthagent.rollout.hf_policy import parse_assistant
from synthagent.sim.interfaces import ToolBackend, UserSimulator, resolve
from synthagent.sim.metrics import user_metrics
from synthagent.sim.runtime import extract_answer
from synthagent.spec.models import Counters, Fault, FunctionCall, Message, RubricResult, Task, ToolCall, Trajectory

Generate = Callable[[list[int]], Awaitable[Any]]
"""prompt ids → the new token ids, or (ids, logprobs), or an object with `token_ids` / `log_probs`."""

DEFAULT_MAX_TOOL_RESPONSE_CHARS = 4096


@dataclass
class EpisodeOutput:
    prompt_ids: list[int]
    response_ids: list[int] = field(default_factory=list)
    response_mask: list[int] = field(default_factory=list)
    response_logprobs: list[float] | None = None
    trajectory: Trajectory | None = None
    result: RubricResult | None = None
    num_turns: int = 0

    @property
    def reward(self) -> float | None:
        """The rubric reward; None when the episode was not scored (or is unscored: see `fault`)."""
        if self.trajectory is not None and self.trajectory.unscored:
            return None
        return self.result.reward if self.result is not None else None

    @property
    def fault(self) -> Fault | None:
        return self.trajectory.fault if self.trajectory is not None else None


def needs_judge(task: Task) -> bool:
    """Whether some rubric item has no programmatic check, so only a judge can decide it."""
    return any(item.check is None for _, items in task.rubric.sections() for item in items)


def truncate_tool_response(text: str, limit: int | None) -> str:
    """At most `limit` characters of a tool response, saying how much was cut (None: no limit)."""
    if limit is None or len(text) <= limit:
        return text
    note = f" …[{len(text) - limit} more characters truncated]"
    return text[:limit] + note


def task_from_extra_info(extra_info: dict[str, Any] | None) -> Task:
    """The Task embedded in a verl row's `extra_info` (what `synthagent export --format verl` writes)."""
    blob = (extra_info or {}).get("task")
    if not isinstance(blob, str) or not blob:
        raise ValueError("extra_info has no embedded task (column extra_info.task); export the parquet with "
                         "`synthagent export --format verl`, which embeds it")
    return Task.model_validate_json(blob)


def _ids(value: Any) -> list[int]:
    if isinstance(value, dict) or hasattr(value, "keys"):
        value = value["input_ids"]
    return [int(x) for x in value]


class ObservationTokenizer:
    """Tokens of messages appended after an assistant turn, as the chat template renders them."""

    def __init__(self, tokenizer: Any, chat_template_kwargs: dict[str, Any] | None = None):
        self.tokenizer = tokenizer
        self.kwargs = dict(chat_template_kwargs or {})
        base = [{"role": "user", "content": "x"}]
        ids = _ids(tokenizer.apply_chat_template(base, tokenize=True, add_generation_prompt=False, **self.kwargs))
        eos = tokenizer.eos_token_id
        cut = max((i for i, t in enumerate(ids) if t == eos), default=len(ids) - 1)
        self.base, self.prefix = base, ids[: cut + 1]

    def __call__(self, messages: list[dict[str, Any]]) -> list[int]:
        ids = _ids(self.tokenizer.apply_chat_template(self.base + messages, tokenize=True, add_generation_prompt=True,
                                                      **self.kwargs))
        if ids[: len(self.prefix)] != self.prefix:
            raise ValueError("the chat template does not render a prefix-stable conversation")
        return ids[len(self.prefix):]


def _unpack(output: Any) -> tuple[list[int], list[float] | None]:
    if hasattr(output, "token_ids"):
        return list(output.token_ids), (list(output.log_probs) if getattr(output, "log_probs", None) else None)
    if isinstance(output, tuple):
        ids, logprobs = output
        return list(ids), (list(logprobs) if logprobs is not None else None)
    return list(output), None


async def run_episode_tokens(task: Task, raw_prompt: list[dict[str, Any]], tokenizer: Any, generate: Generate,
                             user: UserSimulator, tools: ToolBackend, *, seed: int = 0, max_turns: int = 16,
                             max_response_tokens: int = 13312, score: bool = True, judge: Any = None,
                             reward_config: RewardConfig = RewardConfig(), policy_name: str = "verl",
                             chat_template_kwargs: dict[str, Any] | None = None,
                             max_tool_response_chars: int | None = DEFAULT_MAX_TOOL_RESPONSE_CHARS) -> EpisodeOutput:
    template_kwargs = dict(chat_template_kwargs or {})
    observe = ObservationTokenizer(tokenizer, template_kwargs)
    stops = {tokenizer.eos_token_id}
    prompt_ids = _ids(tokenizer.apply_chat_template(raw_prompt, tokenize=True, add_generation_prompt=True,
                                                    **template_kwargs))
    out = EpisodeOutput(prompt_ids=prompt_ids, response_logprobs=[])
    user_session = user.session(task, seed)
    tool_session = tools.session(task)
    system = next((m["content"] for m in raw_prompt if m["role"] == "system"), "")
    opening = next((m["content"] for m in raw_prompt if m["role"] == "user"), task.instruction)
    messages = [Message(role="system", actor="system", content=system), Message(role="user", actor="user", content=opening)]
    counters = Counters(user_turns=1)
    termination, answer, meta = "max_turns", None, {}
    fault: Fault | None = None

    def add(ids: list[int], mask: int, logprobs: list[float] | None = None) -> bool:
        room = max_response_tokens - len(out.response_ids)
        ids = ids[:room]
        out.response_ids += ids
        out.response_mask += [mask] * len(ids)
        if out.response_logprobs is not None:
            if mask and logprobs is not None:
                out.response_logprobs += logprobs[: len(ids)]
            elif mask:
                out.response_logprobs = None
            else:
                out.response_logprobs += [0.0] * len(ids)
        return len(out.response_ids) < max_response_tokens

    for turn in range(max_turns):
        new_ids, logprobs = _unpack(await generate(prompt_ids + out.response_ids))
        out.num_turns += 1
        room_left = add(new_ids, 1, logprobs)
        text_ids = [t for t in new_ids if t not in stops]
        content, calls = parse_assistant(tokenizer.decode(text_ids, skip_special_tokens=False))
        counters.agent_turns += 1
        if calls:
            tool_calls = [ToolCall(id=f"call_{turn}_{i}", function=FunctionCall(name=name, arguments=args))
                          for i, (name, args) in enumerate(calls)]
            messages.append(Message(role="assistant", actor="agent", content=content or None, tool_calls=tool_calls))
            observations = []
            for call in tool_calls:
                result = await resolve(tool_session.call(call.function.name, call.function.arguments))
                counters.tool_calls += 1
                counters.tool_errors += int(result.error)
                seen = truncate_tool_response(result.content, max_tool_response_chars)
                messages.append(Message(role="tool", actor="tool", content=seen, tool_call_id=call.id,
                                        name=call.function.name, error=result.error))
                observations.append({"role": "tool", "content": seen})
                if result.fault is not None:
                    fault = Fault(role="tools", message=f"tool simulator failed on {call.function.name}: {result.fault}")
                    break
            if fault is not None:
                termination = "fault"
                break
            if not room_left or not add(observe(observations), 0):
                break
            continue
        messages.append(Message(role="assistant", actor="agent", content=content))
        answer = extract_answer(content)
        if answer is not None:
            termination = "answer"
            break
        if not room_left:
            break
        reply = await resolve(user_session.reply(content, messages))
        counters.user_turns += 1
        messages.append(Message(role="user", actor="user", content=reply.text, error=reply.fault is not None))
        if reply.fault is not None:
            termination, meta["stop_reason"] = "fault", reply.stop_reason
            fault = Fault(role="user", message=f"user simulator failed ({reply.fault}): {reply.fault_message or ''}")
            break
        if reply.stop:
            termination, meta["stop_reason"] = "user_stop", reply.stop_reason
            break
        if not add(observe([{"role": "user", "content": reply.text}]), 0):
            break
    traj = Trajectory(task_id=task.id, domain=task.domain, difficulty=task.difficulty, policy=policy_name, seed=seed,
                      messages=messages, termination=termination, answer=answer, counters=counters, meta=meta,
                      fault=fault)
    traj.metrics = user_metrics(task, traj)
    out.trajectory = traj
    if score and fault is None:
        out.result = await judged_score(task, traj, reward_config, judge)
        traj.result = out.result
    return out


async def judged_score(task: Task, trajectory: Trajectory, config: RewardConfig, judge: Any) -> RubricResult | None:
    """The rubric result, or None with `trajectory.fault` set when the judge failed or missed its deadline.

    A rubric that needs a judge when none is configured is a configuration error and raises: it would fail
    every episode alike, so it must stop the run, not turn it into a run of unscored samples."""
    if judge is None:
        return await score_async(task, trajectory, config)
    try:
        return await score_async(task, trajectory, config, judge=judge)
    except (ScoringError, asyncio.TimeoutError, OSError) as err:
        reason = "judge missed its deadline" if isinstance(err, asyncio.TimeoutError) else f"judge failed: {err}"
        trajectory.fault = Fault(role="judge", message=reason)
        return None


def trajectory_field(trajectory: Trajectory) -> dict[str, str]:
    """What the agent loop puts in `extra_fields` (verl merges it into the reward function's extra_info)."""
    return {"synthagent_trajectory": trajectory.model_dump_json()}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
