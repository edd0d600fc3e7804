"""The episode runtime: agent ↔ simulated user ↔ tool backend, producing a Trajectory.

An agent turn is an OpenAI assistant message. Its `tool_calls` go to the tool backend (each answered by a tool
message); otherwise its text goes to the user, unless it holds an answer (see `extract_answer` for the precise
rule), which ends the episode. A user stop or the turn limit also ends it. A policy that raises, or returns
something that is not an assistant message, ends the episode with termination `error` and the reason in
`meta`: that is the agent's failure. An LLM endpoint that fails for good (the policy's, the user simulator's
or the tool simulator's: `LLMError` after the client's retries) ends it with termination `fault` and a `Fault`
naming the role: infrastructure failed, so the episode is unscored and a rerun retries it.
"""

from __future__ import annotations

import re
from typing import Any, Coroutine, TypeVar

from synthagent.llm.errors import LLMError
from synthagent.sim.interfaces import Policy, ToolBackend, UserSimulator, resolve
from synthagent.sim.metrics import user_metrics
from synthagent.spec.models import Counters, Fault, Message, Task, Trajectory

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
OPEN_ANSWER_RE = re.compile(r"<answer>", re.IGNORECASE)
UNCLOSED_END_RE = re.compile(r"\n[ \t]*\n|<")  # where an unclosed answer stops: a blank line or the next tag
UNCLOSED_LIMIT = 2000
DEFAULT_MAX_TURNS = 16

PROTOCOL_NOTE = (
    "Talk to the user in plain text; call tools with function calls. Ask the user for anything you need. "
    "Finish with your final reply inside <answer></answer>."
)

T = TypeVar("T")


def system_prompt(task: Task) -> str:
    rules = "\n".join(f"- {rule}" for rule in task.policy)
    return f"<policy>\n{rules}\n</policy>\n{PROTOCOL_NOTE}"


def extract_answer(text: str | None) -> str | None:
    """The final answer in an agent's reply, or None when the reply holds none (then it goes to the user).

    The rule, in order:

    1. The first closed `<answer>…</answer>` pair whose content is not blank is the answer (stripped); text
       after it is not part of the answer.
    2. A blank pair (`<answer></answer>`, `<answer> </answer>`) is never an answer: small models echo the
       protocol note ("…inside <answer></answer>"), and ending the episode with an empty answer on an echo
       would score the episode on nothing the agent meant to say.
    3. With no answer by rules 1-2, an `<answer>` that is never closed (after the last closed pair) is a
       reply cut off mid-answer, usually by a generation cap: the answer is the text after the tag up to
       the first blank line or the next `<`, and at most UNCLOSED_LIMIT characters. A reasoning trace, a
       second paragraph or a stray tag after it is not swallowed into the answer. If that text is blank,
       there is no answer.

    Tags match case-insensitively.
    """
    if not text:
        return None
    closed_end = 0
    for match in ANSWER_RE.finditer(text):
        closed_end = match.end()
        if match.group(1).strip():
            return match.group(1).strip()
    opens = list(OPEN_ANSWER_RE.finditer(text, closed_end))
    if not opens:
        return None
    tail = UNCLOSED_END_RE.split(text[opens[-1].end():], maxsplit=1)[0].strip()
    return tail[:UNCLOSED_LIMIT].strip() or None


async def run_episode(
    task: Task,
    policy: Policy,
    user: UserSimulator,
    tools: ToolBackend,
    *,
    seed: int = 0,
    sample: int = 0,
    max_turns: int = DEFAULT_MAX_TURNS,
) -> Trajectory:
    agent = policy.session(task, seed)
    user_session = user.session(task, seed)
    tool_session = tools.session(task)
    tool_defs = task.agent_tools()
    messages = [Message(role="system", actor="system", content=system_prompt(task)),
                Message(role="user", actor="user", content=await resolve(user_session.opening()))]
    counters = Counters(user_turns=1)
    termination: str = "max_turns"
    answer: str | None = None
    meta: dict[str, Any] = {}
    fault: Fault | None = None
    for turn in range(max_turns):
        try:
            reply = await resolve(agent.act(messages, tool_defs))
            if not isinstance(reply, Message) or reply.role != "assistant":
                raise TypeError(f"policy returned {type(reply).__name__}, not an assistant Message")
        except LLMError as err:  # the endpoint failed for good: nothing is known about the agent
            termination, fault = "fault", Fault(role="policy", message=str(err))
            break
        except Exception as err:  # a broken policy ends its own episode, never the run
            termination, meta["error"] = "error", f"policy failed: {type(err).__name__}: {err}"
            break
        reply.actor = "agent"
        messages.append(reply)
        counters.agent_turns += 1
        if reply.tool_calls:
            for i, call in enumerate(reply.tool_calls):
                if not call.id:
                    call.id = f"call_{turn}_{i}"
                try:
                    result = await resolve(tool_session.call(call.function.name, call.function.arguments))
                except LLMError as err:  # e.g. the budget ran out inside the tool simulator
                    fault = Fault(role="tools", message=str(err))
                    break
                counters.tool_calls += 1
                counters.tool_errors += int(result.error)
                # built by us from typed values: skip re-validation on this hot path
                messages.append(Message.model_construct(role="tool", actor="tool", content=result.content,
                                                        tool_call_id=call.id, name=call.function.name,
                                                        error=result.error))
                if getattr(result, "fault", None) is not None:
                    fault = Fault(role="tools", message=result.fault)
                    break
            if fault is not None:
                termination = "fault"
                break
            continue
        answer = extract_answer(reply.content)
        if answer is not None:
            termination = "answer"
            break
        try:
            user_reply = await resolve(user_session.reply(reply.content or "", messages))
        except LLMError as err:
            termination, fault = "fault", Fault(role="user", message=str(err))
            break
        counters.user_turns += 1
        messages.append(Message.model_construct(role="user", actor="user", content=user_reply.text,
                                                error=user_reply.fault is not None))
        if user_reply.fault is not None:  # the simulator failed after its retries: not the agent's doing
            termination, meta["stop_reason"] = "fault", user_reply.stop_reason
            fault = Fault(role="user", message=user_reply.fault_message or f"user simulator fault: {user_reply.fault}")
            break
        if user_reply.stop:
            termination = "user_stop"
            meta["stop_reason"] = user_reply.stop_reason
            break
    trajectory = Trajectory(task_id=task.id, domain=task.domain, difficulty=task.difficulty, policy=policy.name,
                            sample=sample, seed=seed, messages=messages, termination=termination, answer=answer,
                            counters=counters, fault=fault, meta=meta)
    trajectory.metrics = user_metrics(task, trajectory)
    for session in (user_session, tool_session):  # LLM simulators report their own counters (cache hits, retries)
        extra = getattr(session, "metrics", None)
        if callable(extra):
            trajectory.metrics.update(extra())
    return trajectory


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends, without an event loop.

    Procedural episodes are synchronous underneath; skipping the event loop makes them several times
    cheaper, which matters for self-tests that run on every generated task.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("this episode awaits real I/O; run it with `await run_episode(...)` instead")


def run_episode_sync(task: Task, policy: Policy, user: UserSimulator, tools: ToolBackend, **kwargs: Any) -> Trajectory:
    return drive(run_episode(task, policy, user, tools, **kwargs))
