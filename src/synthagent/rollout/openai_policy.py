"""A policy served by any OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp server, a hosted API).

The model sees the system prompt (policy rules), the conversation and the task's agent-visible tools, and
answers with text or `tool_calls`. A call that fails for good raises the client's `LLMError`, which the
runtime turns into an unscored episode (termination `fault`); it never stops the rollout and is never
scored as the agent's failure. Each sample gets its own cache salt, so k samples of the same prompt are k
real completions, while a rerun of the same rollout is served from the cache.

OpenAI-compatible servers reject function names outside ``[a-zA-Z0-9_-]{1,64}``; a task may carry any
name (an imported "FieldNote Recorder"), so names are mapped to valid ones on the wire and back.

The policy's settings come from the command line and the config's `policy` role, merged field by field
with the flag winning (`policy_role`), and `settings()` reports what was actually sent, for the run's
manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthagent.spec.models import FunctionCall, Message, Task, ToolCall

if TYPE_CHECKING:
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import LLMConfig, RoleConfig

VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
INSTALL_HINT = "the OpenAI SDK is not installed; install the extra: pip install 'synthagent[llm]'"


def to_message(text: str | None, tool_calls: list[dict[str, Any]], names: dict[str, str] | None = None) -> Message:
    calls = []
    for i, call in enumerate(tool_calls or []):
        fn = call.get("function") or {}
        args = fn.get("arguments", "")
        name = str(fn.get("name", ""))
        calls.append(ToolCall(id=str(call.get("id") or f"call_{i}"),
                              function=FunctionCall(name=(names or {}).get(name, name),
                                                    arguments=args if isinstance(args, str) else json.dumps(args))))
    return Message(role="assistant", actor="agent", content=text, tool_calls=calls or None)


def wire_name(name: str) -> str:
    """A name an OpenAI-compatible server accepts: invalid characters become `_`, with a short hash when
    anything changed so that two names that differ only in such characters stay distinct."""
    if VALID_NAME.match(name):
        return name
    clean = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:55] or "tool"
    return f"{clean}_{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


class ToolNames:
    """The two-way map between a task's tool names and the names sent on the wire."""

    def __init__(self, tools: list[dict[str, Any]]):
        self.to_wire: dict[str, str] = {}
        for tool in tools:
            name = (tool.get("function") or {}).get("name", "")
            self.to_wire[name] = wire_name(name)
        self.from_wire = {wire: name for name, wire in self.to_wire.items()}

    @property
    def identity(self) -> bool:
        return all(a == b for a, b in self.to_wire.items())

    def tools(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**t, "function": {**t["function"], "name": self.to_wire[t["function"]["name"]]}} for t in tools]

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("tool_calls"):
            message = {**message, "tool_calls": [
                {**c, "function": {**c["function"], "name": self.to_wire.get(c["function"]["name"],
                                                                             wire_name(c["function"]["name"]))}}
                for c in message["tool_calls"]]}
        if message.get("role") == "tool" and message.get("name"):
            message = {**message, "name": self.to_wire.get(message["name"], wire_name(message["name"]))}
        return message


class OpenAIPolicy:
    def __init__(self, client: LLMClient, model_name: str):
        self.client = client
        self.name = f"openai:{model_name}"

    def session(self, task: Task, seed: int) -> "_Session":
        return _Session(self.client, task, seed)

    def settings(self) -> dict[str, Any]:
        """The settings this policy sends, for the run's manifest (the key itself never appears)."""
        role = self.client.config.role("policy")
        return {"model": role.model, "temperature": role.temperature, "top_p": role.top_p,
                "max_tokens": role.max_tokens, "timeout_s": role.timeout_s, "extra_body": role.extra_body,
                "max_retries": self.client.config.max_retries}

    async def aclose(self) -> None:
        await self.client.aclose()


class _Session:
    def __init__(self, client: LLMClient, task: Task, seed: int):
        self.client, self.task, self.seed = client, task, seed

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        names = ToolNames(tools or [])
        wire = [m.openai() for m in messages]
        if not names.identity:
            wire, tools = [names.message(m) for m in wire], names.tools(tools)
        result = await self.client.chat("policy", wire, tools=tools or None,
                                        cache_salt=f"{self.task.id}:{self.seed}")
        return to_message(result.text, result.tool_calls, names.from_wire)


@dataclass(frozen=True)
class PolicyOptions:
    """Command-line policy settings; None means "not given": the config (or the default) decides."""

    max_tokens: int | None = None
    timeout_s: float | None = None
    temperature: float | None = None
    max_retries: int | None = None
    constrained_calls: bool = False  # hf:PATH only: tool calls held to the schemas (rollout.schema_constraint)


def policy_role(model: str, base_url: str | None, config: LLMConfig | None, options: PolicyOptions) -> LLMConfig:
    """The client config for a policy: the config's `policy` role (or `default`) merged field by field under
    the flags, the model from `openai:MODEL` always winning, so the runs' label is the model sent."""
    from synthagent.llm.config import ConfigError, LLMConfig, RoleConfig

    if config is None and not base_url:
        raise ValueError("openai:MODEL needs --base-url or --config")
    base: dict[str, Any] = {}
    top: dict[str, Any] = {}
    if config is not None:
        try:
            base = config.role("policy").model_dump()
        except ConfigError:
            base = {}
        top = config.model_dump(exclude={"roles"})
    flags = {"model": model, "base_url": base_url, "max_tokens": options.max_tokens, "timeout_s": options.timeout_s,
             "temperature": options.temperature}
    role: RoleConfig = RoleConfig.model_validate({**base, **{k: v for k, v in flags.items() if v is not None}})
    if options.max_retries is not None:
        top["max_retries"] = options.max_retries
    return LLMConfig(roles={"policy": role}, **top)


def openai_policy(model: str, *, base_url: str | None = None, config: Path | None = None,
                  options: PolicyOptions = PolicyOptions()) -> OpenAIPolicy:
    """`openai:MODEL` from the command line: settings merged, a hint when the SDK is missing."""
    if not model:
        raise ValueError("openai:MODEL needs a model name, e.g. openai:Qwen/Qwen3-8B")
    try:
        from synthagent.llm.client import LLMClient
    except ModuleNotFoundError as err:
        if err.name == "openai":
            raise ValueError(INSTALL_HINT) from None
        raise
    from synthagent.llm.config import load_config

    cfg = policy_role(model, base_url, load_config(config) if config is not None else None, options)
    return OpenAIPolicy(LLMClient(cfg), model)
