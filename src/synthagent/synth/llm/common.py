"""What every stage shares: versioned prompt templates, the per-unit meter, structured asks, rejections.

A stage either returns its typed output or raises :class:`StageRejected` (the unit is discarded, with
the stage, a short ``kind`` for counting and the precise reason). Endpoint failures are *not*
rejections: :class:`~synthagent.llm.LLMCallError` and :class:`~synthagent.llm.BudgetExceeded` propagate,
so the unit stays unfinished and a rerun retries it instead of discarding good personas because a server
was down.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from synthagent.llm.client import ChatResult, LLMClient
from synthagent.llm.parsing import ParseError, StructuredOutputError, chat_structured, extract_tag, parse_json_object

T = TypeVar("T")

PROMPT_VERSIONS: dict[str, str] = {
    "A": "a_task.v1",
    "B": "b_underspecify.v1",
    "C": "c_toolcheck.v1",
    "E": "e_rubric.v2",
}
"""The template each stage uses. A changed prompt gets a new file and version here, never an in-place
edit, so every task records exactly which prompts made it (``Task.source.params["prompts"]``)."""

STAGE_LABELS: dict[str, str] = {"A": "A.task", "B": "B.underspecify", "C": "C.toolcheck", "D": "D.solve",
                                "E": "E.rubric"}
"""The ``stage=`` label of each stage's teacher calls in :attr:`LLMClient.usage_by_stage`."""


class StageRejected(Exception):
    """The unit is discarded at ``stage``; ``kind`` groups reasons for counting, ``reason`` explains."""

    def __init__(self, stage: str, kind: str, reason: str, attempts: Sequence[str] = ()) -> None:
        super().__init__(f"stage {stage} ({kind}): {reason}")
        self.stage = stage
        self.kind = kind
        self.reason = reason
        self.attempts = list(attempts)
        self.usage: dict[str, dict[str, int]] = {}
        """What the stage had spent when it rejected the unit (filled in by the engine)."""


@lru_cache(maxsize=None)
def load_prompt(version: str) -> string.Template:
    """The template ``prompts/<version>.txt`` (``$name`` placeholders; ``$$`` is a literal dollar)."""
    text = resources.files("synthagent.synth.llm").joinpath("prompts", f"{version}.txt").read_text(encoding="utf-8")
    return string.Template(text)


def render(stage: str, **fields: Any) -> str:
    """Stage ``stage``'s prompt with every placeholder filled; a missing field is a KeyError (a bug)."""
    return load_prompt(PROMPT_VERSIONS[stage]).substitute({k: str(v) for k, v in fields.items()})


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


def tagged_json(tag: str) -> Callable[[str], dict[str, Any]]:
    """Parse the one ``<tag>{json}</tag>`` block of a reply into a dict (strict: exactly one block)."""

    def parse(text: str) -> dict[str, Any]:
        return parse_json_object(extract_tag(text, tag))

    return parse


def validation_reason(exc: Exception, model_name: str) -> str:
    """One line per pydantic error, the path first, so the repair request says exactly what to fix."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors()[:6]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "(object)"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return f"{model_name} is invalid: " + "; ".join(parts)
    return f"{model_name} is invalid: {exc}"


async def ask(client: Any, stage: str, prompt: str, parse: Callable[[str], T], *, salt: str,
              repairs: list[dict[str, str]]) -> T:
    """One teacher call for ``stage`` with strict parsing and one repair; a second failure rejects the unit.

    ``repairs`` collects the reason of every reply that was rejected but then repaired, so accepted tasks
    also carry the record of what went wrong on the way.
    """
    try:
        structured = await chat_structured(client, "teacher", [{"role": "user", "content": prompt}], parse,
                                           cache_salt=salt, stage=STAGE_LABELS[stage])
    except StructuredOutputError as exc:
        kind = "truncated" if any("finish_reason=length" in r for r in exc.reasons) else "parse"
        raise StageRejected(stage, kind, exc.reasons[-1], exc.reasons) from None
    repairs.extend({"stage": stage, "reason": r} for r in structured.rejections)
    return structured.value


def fail(reason: str) -> ParseError:
    return ParseError(reason)


_WORD_EDGE = re.compile(r"\w")


def mentions(text: str, value: Any) -> bool:
    """Whether ``value`` occurs in ``text`` as a whole token (case-insensitive): "12" is not in "2012"."""
    pattern = mention_pattern(value)
    return pattern is not None and pattern.search(text.lower()) is not None


def mention_pattern(value: Any) -> re.Pattern[str] | None:
    """What :func:`mentions` searches lower-cased text for (None for an empty value, which is never mentioned)."""
    needle = str(value).strip().lower()
    if not needle:
        return None
    left = r"\b" if _WORD_EDGE.match(needle[0]) else ""
    right = r"\b" if _WORD_EDGE.match(needle[-1]) else ""
    return re.compile(left + re.escape(needle) + right)
