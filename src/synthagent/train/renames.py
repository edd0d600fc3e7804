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

Scope "all" goes further, for what a longer pilot showed a model memorises instead of reading (docs/training.md):
an unseen domain's `verify_customer` took retail's or bank's argument keys (`zip_code`, `phone`) in place of
its own (`email`), and its IDs took a training domain's prefix (`NB-246357` for `DB-246357`). With scope
"all", single-word argument keys (`email`, `reason`; not `ask_user`'s `question`) are renamed too, as whole
words everywhere, so the user's "my kobad address" still names the `kobad` key; and every ID's letter prefix
(`CU-919995`, `OR-N00001`) becomes made-up capitals, the same prefix the same capitals, never a registered
domain's prefix. An ID is then right only if it is copied from the conversation.

Scope "each" renames what scope "all" would, but each domain word and each ID prefix on its own, with
probability `EACH_SHARE`. Why: renaming whole episodes taught reading only where nothing was familiar; an
unseen domain that reuses a training tool's name (`verify_customer`) with other keys still got the memorised
keys, and renaming every episode cost the real words (docs/training.md). With words renamed one by one, a
familiar tool name comes with made-up keys, a real key under a made-up name, a real prefix beside a made-up
one, so memory is wrong about any single word half the time, and the real words stay in training.

Scope "swap" is "each" with real words in place of made-up ones: a renamed word becomes another domain word
of the training data (`word_pool`: the parts of every training tool name and key), a renamed prefix another
training domain's prefix. Why: a made-up word is several short tokenizer pieces and a real word often one
merged token, so under "each" a model can tell a renamed key from a real one by its look, copy the first and
recall the second; an unseen domain's `verify_customer` with `email` in place of retail's `zip_code` looks
real, and it got the recalled keys (docs/training.md). Swapped words look like the real ones because they
are real ones, so the only way to tell which key a tool takes is to read its schema. The pool holds only
training words, so nothing of a held-out domain reaches training.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from typing import Any

from synthagent.sim.tool_protocol import ASK_USER

KEPT_PARTS = frozenset({"id", "new"})
SCOPES = ("names", "all", "each", "swap")
EACH_SHARE = 0.5
ID_PATTERN = re.compile(r"\b([A-Z]{2,3})-(N?\d{5,6})\b")
_CAPITALS = "ABCDEFGHJKLMNPRSTVWXZ"
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def made_up_word(rng: random.Random) -> str:
    """Two or three consonant-vowel syllables and a closing consonant: pronounceable, and almost never a word."""
    syllables = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.choice((2, 3))))
    return syllables + rng.choice(_CONSONANTS)


def verbs_of(tool_names: list[str]) -> frozenset[str]:
    """The parts kept by a rename: each tool name's first part (its verb), plus `id` and `new`."""
    return KEPT_PARTS | {name.split("_", 1)[0] for name in tool_names if "_" in name}


def identifiers(tools: list[dict[str, Any]], scope: str = "names") -> set[str]:
    """The episode's renameable identifiers: tool names and argument keys that contain an underscore, and with
    scope "all" single-word argument keys as well; never the protocol's own `ask_user` tool or its arguments,
    which every domain has under those names."""
    if scope not in SCOPES:
        raise ValueError(f"rename scope: expected one of {', '.join(SCOPES)}, got {scope!r}")
    found: set[str] = set()
    for tool in tools:
        function = tool.get("function", tool)
        if function["name"] == ASK_USER:
            continue
        found.add(function["name"])
        found.update((function.get("parameters") or {}).get("properties", {}))
    if scope in ("all", "each", "swap"):
        return found
    return {name for name in found if "_" in name}


@lru_cache(maxsize=1)
def registered_prefixes() -> frozenset[str]:
    """Every registered domain's ID prefixes: a made-up prefix is none of them (held-out domains included)."""
    from synthagent.worlds.registry import all_domains

    return frozenset(e.id_prefix for d in all_domains().values() for e in d.entities.values())


def prefix_map(prefixes: set[str], rng: random.Random, share: float = 1.0,
               pool: frozenset[str] = frozenset(), made_up: float = 0.0) -> dict[str, str]:
    """ID prefix → made-up capitals of two or three letters, one to one, none a registered domain's prefix;
    each prefix is renamed with probability `share` (the others are left out of the map). With a `pool`
    (scope "swap"), the new prefix is one of the pool's that the episode does not use, while one is left,
    except that with probability `made_up` a renamed prefix gets made-up capitals all the same: a prefix no
    training domain has, which only copying gets right (an unseen domain's `DB-` took bank's `NB-`)."""
    taken = set(registered_prefixes())
    free = sorted(pool - prefixes)
    out: dict[str, str] = {}
    for prefix in sorted(prefixes):
        if share < 1.0 and rng.random() >= share:
            continue
        if free and not (made_up > 0 and rng.random() < made_up):
            out[prefix] = free.pop(rng.randrange(len(free)))
            continue
        new = ""
        while not new or new in taken:
            new = "".join(rng.choice(_CAPITALS) for _ in range(rng.choice((2, 3))))
        taken.add(new)
        out[prefix] = new
    return out


def rename_map(names: set[str], kept: frozenset[str], rng: random.Random, share: float = 1.0,
               pool: list[str] | None = None) -> dict[str, str]:
    """identifier → renamed identifier, one made-up word per domain part (the same part, the same word); each
    part is renamed with probability `share`, so an identifier may come back with some parts real. With a
    `pool` (scope "swap"), the new word is one of the pool's, never one already in the episode, while one is
    left."""
    parts = sorted({p for name in names for p in name.split("_")} - kept)
    words: dict[str, str] = {}
    used: set[str] = set(kept) | set(parts)
    free = [w for w in pool or [] if w not in used]
    for part in parts:
        if share < 1.0 and rng.random() >= share:
            continue
        if free:
            words[part] = free.pop(rng.randrange(len(free)))
            continue
        word = made_up_word(rng)
        while word in used:
            word = made_up_word(rng)
        used.add(word)
        words[part] = word
    return {name: "_".join(words.get(p, p) for p in name.split("_")) for name in sorted(names)}


def add_foreign_tools(rows: list[dict[str, Any]], domains: list[str], count: int,
                      rngs: list[random.Random]) -> list[dict[str, Any]]:
    """Each row with `count` tools of the other rows' domains added to its tool list (none that shares a name
    with one of its own), the whole list shuffled; its messages are unchanged.

    Why: with four training domains a model sees four tool lists and can recognise one instead of reading it;
    an unseen domain's list is new as a whole, and a pilot's model read keys off a familiar list with swapped
    words but not off an unseen one (docs/training.md). A list that differs in every episode must be read."""
    by_domain: dict[str, dict[str, dict[str, Any]]] = {}
    for row, domain in zip(rows, domains):
        for tool in row["tools"]:
            by_domain.setdefault(domain, {}).setdefault(tool["function"]["name"], tool)
    out = []
    for row, domain, rng in zip(rows, domains, rngs):
        own = {tool["function"]["name"] for tool in row["tools"]}
        others = sorted({name: tool for d, tools in by_domain.items() if d != domain
                         for name, tool in tools.items() if name not in own}.items())
        picked = [tool for _, tool in rng.sample(others, min(count, len(others)))]
        tools = [*row["tools"], *picked]
        rng.shuffle(tools)
        out.append({**row, "tools": tools})
    return out


def drop_descriptions(rows: list[dict[str, Any]], share: float, rngs: list[random.Random]) -> list[dict[str, Any]]:
    """Each row with each tool's descriptions (the tool's and its arguments') removed with probability `share`,
    tool by tool; names, keys, types and messages are unchanged.

    Why: a rename changes a tool's name and keys but not the sentences that describe them, so a model can find
    a training tool by its description and copy the keys beside it; an unseen tool's description is new, and a
    pilot's model read familiar tools in any list but no unseen one (docs/training.md). Without a description
    the tool must be found by its name and read by its keys."""
    out = []
    for row, rng in zip(rows, rngs):
        tools = []
        for tool in row["tools"]:
            function = tool["function"]
            if function["name"] == ASK_USER or rng.random() >= share:
                tools.append(tool)
                continue
            parameters = dict(function.get("parameters") or {})
            parameters["properties"] = {key: {k: v for k, v in spec.items() if k != "description"}
                                        for key, spec in parameters.get("properties", {}).items()}
            bare = {k: v for k, v in function.items() if k != "description"} | {"parameters": parameters}
            tools.append({**tool, "function": bare})
        out.append({**row, "tools": tools})
    return out


def word_pool(rows: list[dict[str, Any]]) -> tuple[frozenset[str], frozenset[str]]:
    """(words, ID prefixes) of these SFT rows, the replacements scope "swap" draws from: every part of their
    tool names and argument keys except `id`/`new` and any word that is a verb in some row (bank's
    `order_replacement_card` keeps `order` out, though retail's `get_order` has it as a noun), and every ID
    prefix in their messages. The result does not depend on the rows' order."""
    words: set[str] = set()
    verbs: set[str] = set()
    prefixes: set[str] = set()
    for row in rows:
        verbs |= verbs_of([tool.get("function", tool)["name"] for tool in row["tools"]])
        words.update(p for name in identifiers(row["tools"], "all") for p in name.split("_"))
        prefixes.update(m.group(1) for m in ID_PATTERN.finditer(json.dumps(row["messages"])))
    return frozenset(words - verbs), frozenset(prefixes)


def rename_row(row: dict[str, Any], rng: random.Random, scope: str = "names",
               pool: tuple[frozenset[str], frozenset[str]] | None = None, made_up_prefixes: float = 0.0
               ) -> dict[str, Any]:
    """The SFT row (messages, tools, …) with its identifiers renamed everywhere (see the module docstring);
    with scope "all" its single-word argument keys and ID prefixes too; with scope "each" those, word by word
    with probability `EACH_SHARE`; with scope "swap" as "each", drawing from `pool` (`word_pool`). The row's
    other keys are kept as they are; a row with nothing to rename comes back unchanged. `made_up_prefixes`
    (scope "swap") is the share of renamed prefixes that get made-up capitals instead (`prefix_map`)."""
    names = identifiers(row["tools"], scope)
    kept = verbs_of([tool.get("function", tool)["name"] for tool in row["tools"]])
    share = EACH_SHARE if scope in ("each", "swap") else 1.0
    words: list[str] | None = None
    prefix_pool: frozenset[str] = frozenset()
    if scope == "swap":
        if pool is None:
            raise ValueError('rename scope "swap" needs a word pool (word_pool of the training rows)')
        present = set(re.findall(r"[a-z]+", json.dumps(row).lower()))  # no word the episode already says
        words, prefix_pool = sorted(pool[0] - present), pool[1]
    mapping = {old: new for old, new in rename_map(names, kept, rng, share, words).items() if old != new}
    prefixes: dict[str, str] = {}
    if scope in ("all", "each", "swap"):
        found = {m.group(1) for m in ID_PATTERN.finditer(json.dumps(row["messages"]))}
        prefixes = prefix_map(found, rng, share, prefix_pool, made_up_prefixes)
    if not mapping and not prefixes:
        return row
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b"
                         ) if mapping else None

    def substitute(text: str) -> str:
        if pattern is not None:
            text = pattern.sub(lambda m: mapping[m.group(1)], text)
        if prefixes:
            text = ID_PATTERN.sub(lambda m: f"{prefixes.get(m.group(1), m.group(1))}-{m.group(2)}", text)
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return substitute(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        return value

    out = dict(row)
    out["messages"] = walk(row["messages"])
    out["tools"] = walk(row["tools"])
    return out
