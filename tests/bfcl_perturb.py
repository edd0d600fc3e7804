"""Perturbed BFCL multi-turn runs, to compare our verdicts with BFCL's own checker beyond gold.

Each perturbation is one plausible agent mistake applied to the ground truth, chosen by a seeded RNG:
drop a call, change an argument, duplicate a call, swap two calls of a turn, leave a turn without calls,
move a call to the next turn. Some leave the run valid (a harmless swap or duplicate), which is the point:
agreement must hold on both verdicts.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from synthagent.integrations.bfcl import BfclEntry, Call, parse_call_string

KINDS = ("drop", "change_arg", "duplicate", "swap", "empty_turn", "move_next")
# Mistakes in a turn whose ground truth is empty (miss_func, miss_param): the model acts although it cannot
# (act_early: the next turn's first call, made one turn too soon; repeat: the previous turn's last call again).
EMPTY_TURN_KINDS = ("act_early", "repeat")


def empty_turns(entry: BfclEntry) -> list[int]:
    return [i for i, t in enumerate(entry.ground_truth) if not t]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    return value


def perturb(entry: BfclEntry, kind: str, seed: int = 0) -> list[list[list[str]]]:
    rng = random.Random(int(hashlib.sha256(f"{entry.id}:{kind}:{seed}".encode()).hexdigest()[:12], 16))
    turns = [list(t) for t in entry.ground_truth]
    filled = [i for i, t in enumerate(turns) if t]
    i = rng.choice(filled)
    turn = turns[i]
    j = rng.randrange(len(turn))
    if kind == "drop":
        del turn[j]
    elif kind == "change_arg":
        call = parse_call_string(turn[j])
        if call.kwargs:
            key = rng.choice(sorted(call.kwargs))
            turn[j] = Call(call.name, call.args, {**call.kwargs, key: _changed(call.kwargs[key])}).text()
        elif call.args:
            turn[j] = Call(call.name, (_changed(call.args[0]), *call.args[1:]), call.kwargs).text()
        else:
            del turn[j]
    elif kind == "duplicate":
        turn.insert(j, turn[j])
    elif kind == "swap" and len(turn) > 1:
        k = (j + 1) % len(turn)
        turn[j], turn[k] = turn[k], turn[j]
    elif kind == "swap":
        del turn[j]
    elif kind == "empty_turn":
        turns[i] = []
    elif kind == "move_next":
        call = turn.pop(j)
        (turns[i + 1] if i + 1 < len(turns) else turn).append(call)
    return [[t] if t else [] for t in turns]


def perturb_empty_turn(entry: BfclEntry, kind: str) -> list[list[list[str]]]:
    """A call put into the first ground-truth-empty turn that has a filled turn after (act_early) or before (repeat)."""
    turns = [list(t) for t in entry.ground_truth]
    for i in empty_turns(entry):
        after = next((j for j in range(i + 1, len(turns)) if turns[j]), None)
        before = next((j for j in range(i - 1, -1, -1) if turns[j]), None)
        if kind == "act_early" and after is not None:
            turns[i].append(turns[after].pop(0))
            break
        if kind == "repeat" and before is not None:
            turns[i].append(turns[before][-1])
            break
    else:
        raise ValueError(f"{entry.id}: no empty turn to put a {kind} call into")
    return [[t] if t else [] for t in turns]


def bfcl_verdict(entry: BfclEntry, result: list[list[list[str]]], tag: str, irrelevance: bool = False) -> bool:
    """BFCL's own `multi_turn_checker` (it keeps instances in module globals by model name and entry id,
    so every call gets its own name); with `irrelevance`, and also its `multi_turn_irrelevance_checker`."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import (multi_turn_checker,
                                                                          multi_turn_irrelevance_checker)

    test_entry = {"id": entry.id, "initial_config": entry.initial_config, "involved_classes": entry.involved_classes}
    valid = bool(multi_turn_checker(result, entry.ground_truth, test_entry, entry.category, f"agree_{tag}")["valid"])
    if irrelevance:
        valid = valid and bool(multi_turn_irrelevance_checker(result, entry.ground_truth)["valid"])
    return valid
