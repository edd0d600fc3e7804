"""Schema-constrained tool calls for a local policy: a tool call's name must be one of the tools shown, its
argument keys must be that tool's properties (each at most once), and its argument object cannot close
before every required key is there. Values are not constrained.

Why: this is what hosted "strict" function calling and the guided decoding of serving engines give a
policy, and a local policy without it is measured on a harder task than the same model behind such a
server. It also separates two failures that look alike in a score: a model that does not know which tool
to use, and a model that knows but misspells `get_order` as `get_orders` or `email` as `emails`, one of
the ways the tiny models fail in a domain they never saw (docs/training.md measures how much it costs).
Off by default everywhere: a number measured with it says so.

How: a character automaton over the text of the current assistant turn, in the Hermes format the chat
templates here render (`<tool_call>` then `{"name": "…", "arguments": {…}}` then `</tool_call>`). A token
is allowed when each of its characters is accepted from the current state; a token that would break the
schema gets -inf. Tokenizers merge across JSON punctuation (`name": "get_`, `order_id": "`), so the check
is per character, never per token. The allowed set of each state is computed once and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NAME_TRIGGER = re.compile(r'"name"\s*:\s*"$')
ARGUMENTS_TRIGGER = re.compile(r'"arguments"\s*:\s*\{$')
OPEN_CALL, CLOSE_CALL = "<tool_call>", "</tool_call>"
MARKUP = re.compile(r"<[^<>\s]+>")
_WINDOW = 24  # characters kept to spot a trigger; longer than either trigger with some whitespace


@dataclass(frozen=True)
class ToolShape:
    """What the constraint needs of one tool: its argument names and the required ones."""

    keys: frozenset[str]
    required: frozenset[str]


def tool_shapes(tools: list[dict[str, Any]]) -> dict[str, ToolShape]:
    """Name → shape, from OpenAI-style tool schemas (`{"type": "function", "function": {...}}` or the bare
    function object)."""
    shapes = {}
    for tool in tools or []:
        function = tool.get("function", tool)
        params = function.get("parameters") or {}
        keys = frozenset((params.get("properties") or {}).keys())
        shapes[function["name"]] = ToolShape(keys, frozenset(params.get("required") or ()) & keys)
    return shapes


class CallAutomaton:
    """Feeds characters of an assistant turn; a state is a small tuple, `None` means "rejected".

    States: ("out",) outside a call; ("pre", window) inside `<tool_call>` before the name; ("name", partial);
    ("mid", name, window) between the name and the arguments; ("key?", name, used) where a key or the closing
    brace may come; ("key", name, used, partial); ("colon", name, used); ("value", name, used, depth, in
    string, escaped, started); ("after", name, used) after a value; ("end",) after the argument object."""

    def __init__(self, tools: list[dict[str, Any]]):
        self.shapes = tool_shapes(tools)
        self.names = tuple(self.shapes)

    def initial(self) -> tuple:
        return ("out",)

    def feed_special(self, state: tuple, token: str) -> tuple | None:
        """A special token (one the tokenizer never splits): `<tool_call>` opens a call outside one,
        `</tool_call>` closes it where the call is whole or never got as far as its name; others (end of
        turn) are allowed outside a call or after a whole argument object."""
        mode = state[0]
        if token == OPEN_CALL:
            return ("pre", "") if mode in ("out", "end") else None
        if token == CLOSE_CALL:
            return ("out",) if mode in ("end", "pre", "mid") else None
        return state if mode in ("out", "end") else None

    def feed(self, state: tuple, ch: str) -> tuple | None:
        mode = state[0]
        if mode in ("out", "end"):
            return state
        if mode == "pre":
            window = (state[1] + ch)[-_WINDOW:]
            return ("name", "") if NAME_TRIGGER.search(window) else ("pre", window)
        if mode == "name":
            partial = state[1]
            if ch == '"':
                return ("mid", partial, "") if partial in self.shapes else None
            grown = partial + ch
            return ("name", grown) if any(n.startswith(grown) for n in self.names) else None
        if mode == "mid":
            window = (state[2] + ch)[-_WINDOW:]
            return ("key?", state[1], frozenset()) if ARGUMENTS_TRIGGER.search(window) else ("mid", state[1], window)
        name, used = state[1], state[2]
        shape = self.shapes[name]
        if mode == "key?":
            if ch.isspace():
                return state
            if ch == '"':
                return ("key", name, used, "") if shape.keys - used else None
            if ch == "}":
                return ("end",) if shape.required <= used else None
            return None
        if mode == "key":
            partial = state[3]
            free = shape.keys - used
            if ch == '"':
                return ("colon", name, used | {partial}) if partial in free else None
            grown = partial + ch
            return ("key", name, used, grown) if any(k.startswith(grown) for k in free) else None
        if mode == "colon":
            if ch.isspace():
                return state
            return ("value", name, used, 0, False, False, False) if ch == ":" else None
        if mode == "value":
            return self._value(name, used, state[3], state[4], state[5], state[6], ch)
        if mode == "after":
            if ch.isspace():
                return state
            if ch == ",":
                return ("key?", name, used)
            if ch == "}":
                return ("end",) if shape.required <= used else None
            return None
        raise ValueError(f"unknown automaton state {state!r}")

    def _value(self, name: str, used: frozenset, depth: int, in_string: bool, escaped: bool, started: bool,
               ch: str) -> tuple | None:
        """Skips one JSON value of any kind: strings (with escapes), nested objects and arrays, literals."""
        if in_string:
            if escaped:
                return ("value", name, used, depth, True, False, True)
            if ch == "\\":
                return ("value", name, used, depth, True, True, True)
            if ch == '"':
                return ("after", name, used) if depth == 0 else ("value", name, used, depth, False, False, True)
            return ("value", name, used, depth, True, False, True)
        if ch.isspace():
            if started and depth == 0:
                return ("after", name, used)
            return ("value", name, used, depth, False, False, started)
        if ch == '"':
            return ("value", name, used, depth, True, False, True)
        if ch in "{[":
            return ("value", name, used, depth + 1, False, False, True)
        if ch in "}]":
            if depth > 0:
                return ("after", name, used) if depth == 1 else ("value", name, used, depth - 1, False, False, True)
            if ch == "}" and started:  # a literal value closed by the object's own brace
                return self.feed(("after", name, used), ch)
            return None
        if ch == "," and depth == 0:
            return ("key?", name, used) if started else None
        return ("value", name, used, depth, False, False, True)

    def feed_text(self, state: tuple | None, text: str) -> tuple | None:
        for ch in text:
            if state is None:
                return None
            state = self.feed(state, ch)
        return state


class SchemaConstraint:
    """The automaton over one tokenizer's vocabulary: the state of a turn's tokens, and per state the token
    ids that keep the call inside the schema (cached)."""

    def __init__(self, tokenizer: Any, tools: list[dict[str, Any]]):
        self.automaton = CallAutomaton(tools)
        vocab = tokenizer.get_vocab()
        # Markup tokens (`<tool_call>`, `<|im_end|>`) are fed as wholes; other added tokens (a tokenizer may
        # add digit groups) are text like any other.
        added = getattr(tokenizer, "get_added_vocab", lambda: {})() or {}
        special = set(getattr(tokenizer, "all_special_tokens", []) or [])
        special |= {t for t in added if MARKUP.fullmatch(t)}
        size = max(vocab.values()) + 1
        self.pieces: list[tuple[bool, str]] = [(False, "")] * size
        for token, index in vocab.items():
            if token in special:
                self.pieces[index] = (True, token)
            else:
                self.pieces[index] = (False, tokenizer.decode([index]))
        self._allowed: dict[tuple, list[int]] = {}

    def advance(self, state: tuple | None, token_id: int) -> tuple | None:
        if state is None or token_id >= len(self.pieces):
            return state
        is_special, text = self.pieces[token_id]
        if is_special:
            return self.automaton.feed_special(state, text)
        return self.automaton.feed_text(state, text)

    def state_of(self, token_ids: list[int]) -> tuple | None:
        state: tuple | None = self.automaton.initial()
        for token_id in token_ids:
            state = self.advance(state, token_id)
        return state

    def allowed(self, state: tuple) -> list[int] | None:
        """The token ids allowed in `state`, or None where everything is (outside a call)."""
        if state[0] in ("out", "end"):
            return None
        if state not in self._allowed:
            self._allowed[state] = [i for i, (is_special, text) in enumerate(self.pieces)
                                    if (text or is_special) and self.advance(state, i) is not None]
        return self._allowed[state]


def logits_processor(constraint: SchemaConstraint, turn_start: int) -> Any:
    """A transformers LogitsProcessor that masks, at each step, the tokens that would break the schema;
    `turn_start` is the index in the input where the assistant turn's text begins. A state the automaton
    already rejected (text the model wrote before the constraint could act, in a prompt) masks nothing."""
    import torch
    from transformers import LogitsProcessor

    class _Processor(LogitsProcessor):
        def __init__(self) -> None:
            # per row: (tokens fed so far, their state), so each step feeds only the token it adds
            self.fed: dict[int, tuple[int, tuple | None]] = {}

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for row in range(input_ids.shape[0]):
                done, state = self.fed.get(row, (turn_start, constraint.automaton.initial()))
                for token_id in input_ids[row, done:].tolist():
                    state = constraint.advance(state, token_id)
                self.fed[row] = (input_ids.shape[1], state)
                allowed = constraint.allowed(state) if state is not None else None
                if allowed:
                    mask = torch.full_like(scores[row], float("-inf"))
                    mask[allowed] = 0.0
                    scores[row] = scores[row] + mask
            return scores

    return _Processor()
