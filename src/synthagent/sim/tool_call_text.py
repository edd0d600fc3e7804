"""The `<tool_call>{"name": …, "arguments": {…}}</tool_call>` text format (Hermes / Qwen chat templates, the
paper's text protocol): the one parser of tool-call blocks out of a model's turn.

Used by the paper's text protocol (``integrations.text_protocol``), local HF policies
(``rollout.hf_policy``) and the verl agent loop. It never raises: a block whose JSON is broken still becomes
a call, with the name recovered when it can be (else :data:`MALFORMED_TOOL_NAME`) and the raw block as its
arguments, so the tool backend answers with an error observation the agent can learn from. Blocks inside
`<think>…</think>` (``llm.parsing.THINK_BLOCK``) are drafts and are not calls.
"""

from __future__ import annotations

import json
import re

from synthagent.llm.parsing import THINK_BLOCK

MALFORMED_TOOL_NAME = "malformed_tool_call"
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _masked(text: str) -> str:
    """`text` with every think block blanked out (same length, so positions still match)."""
    return THINK_BLOCK.sub(lambda m: " " * len(m.group(0)), text)


def _call_from_block(inner: str) -> tuple[str, str]:
    """(name, arguments JSON text) of one block; for a malformed block, the raw block as arguments."""
    raw = inner.strip()
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("name"), str) and obj["name"]:
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, dict):
            return obj["name"], json.dumps(args, ensure_ascii=False)
        if isinstance(args, str):
            return obj["name"], args
    found = _NAME.search(raw)
    name = found.group(1) if found else MALFORMED_TOOL_NAME
    try:
        name = json.loads(f'"{name}"')
    except json.JSONDecodeError:
        pass
    return name or MALFORMED_TOOL_NAME, raw


def parse_tool_call_blocks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(text without its `<tool_call>` blocks, [(tool name, arguments JSON text)]) of one assistant turn.

    Blocks
    inside a think block are drafts and stay text; an unclosed block runs to the end of the text; a
    malformed block becomes a call whose arguments are the raw block (see the module docstring), so the
    agent gets an error observation instead of the episode crashing.
    """
    found = list(_BLOCK.finditer(_masked(text)))
    if not found:
        return text, []
    calls = [_call_from_block(text[m.start(1):m.end(1)]) for m in found]
    kept, cursor = [], 0
    for m in found:
        kept.append(text[cursor:m.start()])
        cursor = m.end()
    kept.append(text[cursor:])
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip(), calls
