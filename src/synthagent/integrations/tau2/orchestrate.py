"""One τ² trial as τ²'s orchestrator plays it, with our LLM client instead of litellm.

The roles and their views are τ²'s: the agent gets τ²'s system prompt (its instruction and the domain
policy), the orchestrator's greeting as its first message, and native tool calls over the domain's
assistant tools; no answer tag is required, a text message simply goes to the user. The user simulator
gets τ²'s guidelines and the task's scenario, sees the conversation with roles flipped, and (telecom)
τ²'s user tools on its own device; its tool calls go to the environment with requestor "user", and its
results come back to it alone. A user message containing a stop signal ends the trial. Limits are τ²'s:
a step is one message delivered; after `max_steps` steps or `max_errors` tool errors the trial ends
(τ² scores such a trial 0). Nothing the models send can crash a trial: an empty message ends it as the
sender's error, malformed tool arguments become error observations.

An endpoint that fails for good (the client's LLMError after retries) makes the trial *unscored*
(`Trajectory.fault`), counted apart from agent failures; it is never scored 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from synthagent.integrations.tau2.env import WORLDS, Tau2Worlds, overlay_mode, reading
from synthagent.integrations.tau2.protocol import Tau2Protocol
from synthagent.spec.models import Counters, Fault, FunctionCall, Message, ToolCall, Trajectory

if TYPE_CHECKING:
    from synthagent.llm.client import LLMClient


@dataclass
class TrialContext:
    """What the roles of one trial may know: the τ² task (raw), its domain, the trial's seed and tools."""

    task_raw: dict[str, Any]
    domain: str
    trial: int
    seed: int
    agent_tools: list[dict[str, Any]]
    user_tools: list[dict[str, Any]] | None
    agent_system: str
    user_system: str
    messages: list[Message] = field(default_factory=list)

    @property
    def task_id(self) -> str:
        return str(self.task_raw["id"])


class Tau2Agent(Protocol):
    label: str

    async def act(self, ctx: TrialContext, history: list[dict[str, Any]]) -> Message: ...


class Tau2UserSim(Protocol):
    label: str

    async def reply(self, ctx: TrialContext, view: list[dict[str, Any]]) -> Message: ...


# ------------------------------------------------------------------------------- message views


def _requestors(messages: list[Message]) -> list[str | None]:
    """For each message, who asked for it if it is a tool result ("assistant" or "user"), else None."""
    out: list[str | None] = []
    last: str | None = None
    for msg in messages:
        if msg.tool_calls:
            last = "assistant" if msg.actor == "agent" else "user"
        out.append(last if msg.actor == "tool" else None)
    return out


def agent_view(ctx: TrialContext) -> list[dict[str, Any]]:
    """The agent's history: its messages, its tool results and the user's text messages."""
    out: list[dict[str, Any]] = [{"role": "system", "content": ctx.agent_system}]
    for msg, requestor in zip(ctx.messages, _requestors(ctx.messages)):
        if msg.actor == "agent":
            out.append(msg.openai())
        elif msg.actor == "tool" and requestor == "assistant":
            out.append({"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content or ""})
        elif msg.actor == "user" and not msg.tool_calls:
            out.append({"role": "user", "content": msg.content or ""})
    return out


def user_view(ctx: TrialContext) -> list[dict[str, Any]]:
    """The user's history with roles flipped, as τ²'s `UserState.flip_roles`: the agent's text messages as
    "user", the user's own messages (and tool calls) as "assistant", results of the user's calls as "tool"."""
    out: list[dict[str, Any]] = [{"role": "system", "content": ctx.user_system}]
    for msg, requestor in zip(ctx.messages, _requestors(ctx.messages)):
        if msg.actor == "agent" and not msg.tool_calls:
            out.append({"role": "user", "content": msg.content or ""})
        elif msg.actor == "user":
            flipped: dict[str, Any] = {"role": "assistant", "content": msg.content}
            if msg.tool_calls:
                flipped["tool_calls"] = [c.model_dump() for c in msg.tool_calls]
            out.append(flipped)
        elif msg.actor == "tool" and requestor == "user":
            out.append({"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content or ""})
    return out


def message_from_reply(actor: str, text: str | None, tool_calls: list[dict[str, Any]], prefix: str) -> Message:
    calls = []
    for i, call in enumerate(tool_calls or []):
        fn = call.get("function") or call
        args = fn.get("arguments", "{}")
        calls.append(ToolCall(id=str(call.get("id") or f"{prefix}_{i}"),
                              function=FunctionCall(name=str(fn.get("name", "")),
                                                    arguments=args if isinstance(args, str) else json.dumps(args))))
    role = "assistant" if actor == "agent" else "user"
    return Message(role=role, actor=actor, content=text or None, tool_calls=calls or None)  # type: ignore[arg-type]


def _empty(msg: Message) -> bool:
    return not msg.tool_calls and not (msg.content or "").strip()


# --------------------------------------------------------------------------------- LLM roles


class LLMAgent:
    """τ²'s LLM agent through our client: native tool calls, the trial's seed sent as τ² sends it."""

    def __init__(self, client: "LLMClient", model: str, role: str = "policy"):
        self.client, self.role, self.label = client, role, model

    async def act(self, ctx: TrialContext, history: list[dict[str, Any]]) -> Message:
        result = await self.client.chat(self.role, history, ctx.agent_tools, seed=ctx.seed,
                                        cache_salt=f"tau2-agent:{ctx.task_id}:{ctx.trial}", stage="tau2-agent")
        return message_from_reply("agent", result.text, result.tool_calls, f"agent_{len(ctx.messages)}")


class LLMUser:
    """τ²'s user simulator through our client: its guidelines and scenario, its tools where the domain has them."""

    def __init__(self, client: "LLMClient", role: str = "user"):
        self.client, self.role = client, role
        self.label = client.config.role(role).model

    async def reply(self, ctx: TrialContext, view: list[dict[str, Any]]) -> Message:
        result = await self.client.chat(self.role, view, ctx.user_tools or None, seed=ctx.seed,
                                        cache_salt=f"tau2-user:{ctx.task_id}:{ctx.trial}", stage="tau2-user")
        return message_from_reply("user", result.text, result.tool_calls, f"user_{len(ctx.messages)}")


# ---------------------------------------------------------------------------------- the trial


@dataclass
class TrialOutcome:
    trajectory: Trajectory
    reason: str  # τ²'s termination reason: user_stop, max_steps, too_many_errors, agent_error, user_error, fault


def _tool_result(env: Any, call: ToolCall, requestor: str, read_only: frozenset[str], mode: Any) -> Message:
    from tau2.data_model.message import ToolCall as Tau2ToolCall

    try:
        args = json.loads(call.function.arguments) if call.function.arguments.strip() else {}
    except json.JSONDecodeError as err:
        args, problem = None, f"Error: arguments are not valid JSON ({err.msg})"
    else:
        problem = None if isinstance(args, dict) else "Error: arguments must be a JSON object"
    if problem is not None:
        return Message(role="tool", actor="tool", content=problem, tool_call_id=call.id, name=call.function.name,
                       error=True)
    try:
        with reading(mode, requestor == "assistant" and call.function.name in read_only):
            tau2_call = Tau2ToolCall(id=call.id, name=call.function.name, arguments=args, requestor=requestor)
            response = env.get_response(tau2_call)
        content, error = response.content or "", bool(response.error)
    except Exception as err:  # get_response catches tool errors itself; this is for anything else
        content, error = f"Error: {type(err).__name__}: {err}", True
    return Message(role="tool", actor="tool", content=content, tool_call_id=call.id, name=call.function.name,
                   error=error)


TERMINATION = {"user_stop": "user_stop", "agent_stop": "user_stop", "max_steps": "max_turns",
               "too_many_errors": "error", "agent_error": "error", "user_error": "error", "fault": "fault"}


async def run_trial(ctx: TrialContext, agent: Tau2Agent, user: Tau2UserSim, protocol: Tau2Protocol, *,
                    policy_label: str, max_steps: int | None = None, max_errors: int | None = None,
                    worlds: Tau2Worlds = WORLDS) -> TrialOutcome:
    from synthagent.llm.errors import LLMError

    max_steps = protocol.max_steps if max_steps is None else max_steps
    max_errors = protocol.max_errors if max_errors is None else max_errors
    initial_state = ctx.task_raw.get("initial_state")
    env = worlds.fresh_env(ctx.domain, initial_state)
    mode, read_only = overlay_mode(env), worlds.read_only_tools(ctx.domain)
    ctx.messages = [Message(role="assistant", actor="agent", content=protocol.first_agent_message)]
    sender, target = "agent", "user"
    steps = errors = 0
    counters = Counters()
    reason: str | None = None
    fault: Fault | None = None
    while reason is None:
        try:
            if target == "user":
                msg = await user.reply(ctx, user_view(ctx))
                counters.user_turns += 1
                if _empty(msg):
                    reason = "user_error"
                    break
                ctx.messages.append(msg)
                if not msg.tool_calls and protocol.is_stop(msg.content):
                    reason = "user_stop"
                    break
                sender, target = "user", ("env" if msg.tool_calls else "agent")
            elif target == "agent":
                msg = await agent.act(ctx, agent_view(ctx))
                counters.agent_turns += 1
                if _empty(msg):
                    reason = "agent_error"
                    break
                ctx.messages.append(msg)
                sender, target = "agent", ("env" if msg.tool_calls else "user")
            else:
                requestor = "assistant" if sender == "agent" else "user"
                for call in ctx.messages[-1].tool_calls or []:
                    result = _tool_result(env, call, requestor, read_only, mode)
                    counters.tool_calls += 1
                    if result.error:
                        errors += 1
                        counters.tool_errors += 1
                    ctx.messages.append(result)
                sender, target = "env", sender
        except LLMError as err:
            role = "user" if target == "user" else "policy"
            fault, reason = Fault(role=role, message=f"{type(err).__name__}: {err}"), "fault"  # type: ignore[arg-type]
            break
        steps += 1
        if target != "env":
            if steps >= max_steps:
                reason = "max_steps"
            elif errors >= max_errors:
                reason = "too_many_errors"
    trajectory = Trajectory(
        task_id=f"tau2-{ctx.domain}-{ctx.task_id}", domain=f"tau2-{ctx.domain}", policy=policy_label,
        sample=ctx.trial, seed=ctx.seed, messages=list(ctx.messages), termination=TERMINATION[reason],  # type: ignore[arg-type]
        counters=counters, fault=fault,
        meta={"tau2_termination": reason, "tau2_task_id": ctx.task_id, "tau2_domain": ctx.domain, "steps": steps,
              "tool_errors": errors})
    return TrialOutcome(trajectory, reason)
