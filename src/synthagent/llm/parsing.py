"""Strict parsing of structured model output, with exactly one repair attempt.

Real models wrap JSON in prose, forget closing tags, stop at the token limit, or emit two answers. The
parsers here accept only well-defined shapes and otherwise raise :class:`ParseError` with a reason
precise enough to hand back to the model ("<answer> opened at char 12 but never closed"). That reason does
double duty: :func:`chat_structured` sends it in its single repair request, and every rejection is kept
so the pipeline can report why a task was discarded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from synthagent.llm.client import ChatResult, LLMClient, LLMError, Usage

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)
"""A reasoning block. One that is never closed runs to the end of the text: the reply never got past its
reasoning, and nothing drafted there may count. The one definition every parser uses (structured output,
the LLM user, the text tool-call protocol, local HF policies)."""
_TAG_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


class ParseError(ValueError):
    """Output that does not have the required shape; ``reason`` says exactly what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_tag_name(tag: str) -> None:
    if not _TAG_NAME.fullmatch(tag):
        raise ValueError(f"not a valid tag name: {tag!r}")


def strip_think(text: str) -> str:
    """Drop ``<think>…</think>`` blocks (an unclosed one to the end of the text): reasoning models draft
    answers there that must not count."""
    return THINK_BLOCK.sub("", text)


def extract_tags(text: str, tag: str) -> list[str]:
    """The contents of every ``<tag>…</tag>`` block, stripped; an unclosed block is an error."""
    _check_tag_name(tag)
    text = strip_think(text)
    opening, closing = f"<{tag}>", f"</{tag}>"
    found: list[str] = []
    position = 0
    while True:
        start = text.find(opening, position)
        if start < 0:
            break
        end = text.find(closing, start + len(opening))
        nested = text.find(opening, start + len(opening))
        if end < 0:
            raise ParseError(f"<{tag}> opened at char {start} but never closed (no {closing}; reply truncated?)")
        if 0 <= nested < end:
            raise ParseError(f"<{tag}> opened at char {start} is opened again at char {nested} before {closing}")
        found.append(text[start + len(opening):end].strip())
        position = end + len(closing)
    stray = text.find(closing, position)
    if stray >= 0:
        raise ParseError(f"{closing} at char {stray} has no matching <{tag}>")
    return found


def extract_tag(text: str, tag: str, *, allow_empty: bool = False) -> str:
    """The content of the one ``<tag>…</tag>`` block; zero, several, unclosed or empty blocks are errors."""
    blocks = extract_tags(text, tag)
    if not blocks:
        raise ParseError(f"no <{tag}>...</{tag}> block found")
    if len(blocks) > 1:
        raise ParseError(f"found {len(blocks)} <{tag}> blocks; expected exactly one")
    if not blocks[0] and not allow_empty:
        raise ParseError(f"<{tag}> block is empty")
    return blocks[0]


def parse_json_object(text: str) -> dict[str, Any]:
    """A JSON object from a ```json fenced block if there is one, else from the first balanced ``{…}``."""
    text = strip_think(text)
    fenced = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    candidates = [body for lang, body in fenced if lang == "json"] or [body for lang, body in fenced if not lang]
    if candidates:
        source, where = candidates[0].strip(), "the ```json block"
    else:
        if "```json" in text:
            raise ParseError("```json block opened but never closed (reply truncated?)")
        start = text.find("{")
        try:  # a well-formed object ends where its braces balance: the C decoder finds that end at once
            value = _DECODER.raw_decode(text, start)[0] if start >= 0 else None
        except json.JSONDecodeError:
            value = None  # scanned below, for the precise reason
        if isinstance(value, dict):
            return value
        source, where = _first_balanced_object(text), "the first {...} in the reply"
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON in {where}: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise ParseError(f"{where} holds a JSON {type(value).__name__}, expected an object")
    return value


_DECODER = json.JSONDecoder()


def _first_balanced_object(text: str) -> str:
    start = text.find("{")
    if start < 0:
        raise ParseError("no JSON object found (no '{' in the reply)")
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
    raise ParseError(f"JSON object starting at char {start} is never closed "
                     f"({depth} unclosed brace(s){', inside a string' if in_string else ''}; reply truncated?)")


def json_model(model: type[M]) -> Callable[[str], M]:
    """A parse function: a JSON object validated against ``model``, with a one-line-per-error reason."""

    def parse(text: str) -> M:
        data = parse_json_object(text)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(object)'}: {err['msg']}" for err in exc.errors()
            )
            raise ParseError(f"JSON does not match {model.__name__}: {problems}") from exc

    return parse


# --------------------------------------------------------------------- chat with one repair


class StructuredOutputError(LLMError):
    """Every attempt was rejected; ``reasons`` holds one reason per attempt, ``last_text`` the last reply."""

    def __init__(self, role: str, reasons: Sequence[str], last_text: str) -> None:
        super().__init__(f"{role}: structured output rejected after {len(reasons)} attempt(s): "
                         + " | then: ".join(reasons))
        self.role = role
        self.reasons = list(reasons)
        self.last_text = last_text


@dataclass
class StructuredResult(Generic[T]):
    """The parsed value plus what it cost: every reply, the rejections on the way, summed usage."""

    value: T
    result: ChatResult
    attempts: int
    rejections: list[str] = field(default_factory=list)
    usage: Usage = Usage(0, 0)


def repair_message(reason: str, truncated: bool) -> str:
    """What the model is told after a rejected reply: the precise reason, and to answer again in full."""
    hint = " Your reply was cut off at the token limit; be more concise." if truncated else ""
    return (f"Your previous reply could not be used: {reason}.{hint} Reply again with the complete answer "
            "in exactly the required format.")


async def chat_structured(
    client: LLMClient,
    role: str,
    messages: Sequence[Mapping[str, Any]],
    parse_fn: Callable[[str], T],
    *,
    repair: bool = True,
    tools: Sequence[Mapping[str, Any]] | None = None,
    **chat_kwargs: Any,
) -> StructuredResult[T]:
    """Call ``role`` and parse the reply with ``parse_fn``; on rejection make one repair attempt.

    ``parse_fn`` signals a bad reply by raising :class:`ParseError` (any ``ValueError`` counts, pydantic's
    ``ValidationError`` included). The repair request is the original conversation plus the rejected
    reply and a user message giving the reason. Raises :class:`StructuredOutputError` with every reason
    when no attempt parses; transport failures propagate as the client raised them.
    """
    conversation = [dict(m) for m in messages]
    rejections: list[str] = []
    prompt = completion = 0
    estimated = False
    for attempt in range(2 if repair else 1):
        result = await client.chat(role, conversation, tools, **chat_kwargs)
        prompt += result.usage.prompt_tokens
        completion += result.usage.completion_tokens
        estimated = estimated or result.usage.estimated
        try:
            value = parse_fn(result.text)
        except ValueError as exc:
            reason = exc.reason if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
            if result.truncated:
                reason += " (the reply hit the token limit: finish_reason=length)"
            rejections.append(reason)
            conversation += [{"role": "assistant", "content": result.text},
                             {"role": "user", "content": repair_message(reason, result.truncated)}]
            continue
        return StructuredResult(value=value, result=result, attempts=attempt + 1, rejections=rejections,
                                usage=Usage(prompt, completion, estimated))
    raise StructuredOutputError(role, rejections, result.text)
