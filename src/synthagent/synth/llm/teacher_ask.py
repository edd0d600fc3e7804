"""One structured teacher call per stage: strict parsing, one repair, and a rejection when that fails too.

A stage either returns its typed output or raises :class:`~synthagent.synth.llm.outcome.StageRejected`.
Endpoint failures are *not* rejections: :class:`~synthagent.llm.LLMCallError` and
:class:`~synthagent.llm.BudgetExceeded` propagate, so the unit stays unfinished and a rerun retries it
instead of discarding good personas because a server was down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from synthagent.llm.parsing import StructuredOutputError, chat_structured, extract_tag, parse_json_object
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.stage_prompts import STAGE_LABELS

T = TypeVar("T")


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
