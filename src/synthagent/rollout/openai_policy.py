"""A policy served by any OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp server, a hosted API).

The model sees the system prompt (policy rules), the conversation and the task's agent-visible tools, and
answers with text or `tool_calls`. A call that fails for good ends that episode with termination `error`
(the runtime catches it); it never stops the rollout. Each sample gets its own cache salt, so k samples of
the same prompt are k real completions, while a rerun of the same rollout is served from the cache.
"""

from __future__ import annotations

import json
from typing import Any

from synthagent.llm.client import LLMClient
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall


def to_message(text: str | None, tool_calls: list[dict[str, Any]]) -> Message:
    calls = []
    for i, call in enumerate(tool_calls or []):
        fn = call.get("function") or {}
        args = fn.get("arguments", "")
        calls.append(ToolCall(id=str(call.get("id") or f"call_{i}"),
                              function=FunctionCall(name=str(fn.get("name", "")),
                                                    arguments=args if isinstance(args, str) else json.dumps(args))))
    return Message(role="assistant", actor="agent", content=text, tool_calls=calls or None)


class OpenAIPolicy:
    def __init__(self, client: LLMClient, model_name: str):
        self.client = client
        self.name = f"openai:{model_name}"

    def session(self, task: Task, seed: int) -> "_Session":
        return _Session(self.client, task, seed)


class _Session:
    def __init__(self, client: LLMClient, task: Task, seed: int):
        self.client, self.task, self.seed = client, task, seed

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        result = await self.client.chat("policy", [m.openai() for m in messages], tools=tools or None,
                                        cache_salt=f"{self.task.id}:{self.seed}")
        return to_message(result.text, result.tool_calls)
