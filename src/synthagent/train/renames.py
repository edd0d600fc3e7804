"""Renamed demonstrations: an SFT episode whose domain words in tool names and argument keys are replaced,
consistently, by made-up words.

Why: the transfer claim asks a model trained on some domains to work in domains it never saw (`splits.py`),
whose tools are named with words it never saw (`verify_guest`, `renew_loan`). A model trained only on the
real names can succeed in training by memorising them (`get_order` always follows `verify_customer` in
retail), and then has nothing to fall back on when the names change. In a renamed episode the only way to
write the right tool name or key is to copy it from the tool list in the system prompt, which is the skill
an unseen domain needs. The made-up words are random syllables, not words of the held-out domains, so
nothing of those domains reaches training; like an unseen domain's words they are split by the tokenizer
into several pieces.

What is renamed: every identifier with an underscore that names a tool or an argument of this episode
(`cancel_reservation`, `guest_id`), part by part. Verbs (the first part of any of the episode's tool names)
and `id`/`new` stay, so `get_reservation` becomes `get_brelox` and `reservation_id` becomes
`brelox_id`: the structure stays readable, only the domain's nouns change. Every occurrence is replaced as
a whole word wherever it appears: the policy text, the tool schemas, the calls, the tool results and the
agent's confirmation questions. Single words (`email`, `hotel`) are left alone, since they also occur in
ordinary sentences.
"""

from __future__ import annotations

import random
import re
from typing import Any

from synthagent.sim.tool_protocol import ASK_USER

KEPT_PARTS = frozenset({"id", "new"})
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def made_up_word(rng: random.Random) -> str:
    """Two or three consonant-vowel syllables and a closing consonant: pronounceable, and almost never a word."""
    syllables = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.choice((2, 3))))
    return syllables + rng.choice(_CONSONANTS)


def verbs_of(tool_names: list[str]) -> frozenset[str]:
    """The parts kept by a rename: each tool name's first part (its verb), plus `id` and `new`."""
    return KEPT_PARTS | {name.split("_", 1)[0] for name in tool_names if "_" in name}


def identifiers(tools: list[dict[str, Any]]) -> set[str]:
    """The episode's tool names and argument keys that contain an underscore (the renameable identifiers),
    except the protocol's own `ask_user` tool, which every domain has under that name."""
    found: set[str] = set()
    for tool in tools:
        function = tool.get("function", tool)
        found.add(function["name"])
        found.update((function.get("parameters") or {}).get("properties", {}))
    return {name for name in found if "_" in name} - {ASK_USER}


def rename_map(names: set[str], kept: frozenset[str], rng: random.Random) -> dict[str, str]:
    """identifier → renamed identifier, one made-up word per domain part (the same part, the same word)."""
    words: dict[str, str] = {}
    used: set[str] = set(kept)
    for part in sorted({p for name in names for p in name.split("_")} - kept):
        word = made_up_word(rng)
        while word in used:
            word = made_up_word(rng)
        used.add(word)
        words[part] = word
    return {name: "_".join(words.get(p, p) for p in name.split("_")) for name in sorted(names)}


def rename_row(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The SFT row (messages, tools, …) with its identifiers renamed everywhere (see the module docstring).
    The row's other keys are kept as they are; a row with nothing to rename comes back unchanged."""
    names = identifiers(row["tools"])
    kept = verbs_of([tool.get("function", tool)["name"] for tool in row["tools"]])
    mapping = {old: new for old, new in rename_map(names, kept, rng).items() if old != new}
    if not mapping:
        return row
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: mapping[m.group(1)], value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        return value

    out = dict(row)
    out["messages"] = walk(row["messages"])
    out["tools"] = walk(row["tools"])
    return out
