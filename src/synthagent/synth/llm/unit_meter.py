"""A view of the shared LLM client that counts one unit's tokens, per stage and role, cache hits included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from synthagent.llm.client import ChatResult, LLMClient


class UnitMeter:
    """A view of the shared client that also counts tokens for one unit and stage, per role.

    The pipeline's cost figures must not depend on whether a run was interrupted: a resumed unit replays
    its calls from the cache, so a cache hit is counted here at its original size (the client's own
    ``usage`` counts it as free, which is the right figure for *this session's* spend). Anything that
    calls ``client.chat`` (``chat_structured``, the LLM user, the LLM tool backend) can be given a meter.
    """

    def __init__(self, client: LLMClient) -> None:
        self._client = client
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: {"prompt": 0, "completion": 0, "calls": 0})

    async def chat(self, role: str, messages: Sequence[Mapping[str, Any]], tools: Any = None,
                   **kwargs: Any) -> ChatResult:
        result = await self._client.chat(role, messages, tools, **kwargs)
        bucket = self.counts[role]
        bucket["prompt"] += result.usage.prompt_tokens
        bucket["completion"] += result.usage.completion_tokens
        bucket["calls"] += 1
        return result

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {role: dict(c) for role, c in sorted(self.counts.items())}

    def __getattr__(self, name: str) -> Any:  # config, usage... for code that inspects the client
        return getattr(self._client, name)
