"""BFCL-v4 multi-turn: its shipped tasks and executable mock APIs (from the `bfcl-eval` wheel, installed
`--no-deps`; only its data and API classes are used), run in our runtime, scored as BFCL's checker scores.

    from synthagent.integrations.bfcl import load_entries, BfclSession, check
    entries = load_entries("base")                       # 200 multi-turn tasks
    verdict = check(entries[0], entries[0].gold_calls())  # gold replay: valid
"""

from synthagent.integrations.bfcl.data import CATEGORIES, BfclEntry, BfclUnavailable, load_entries
from synthagent.integrations.bfcl.backend import BfclSession, Call, check, parse_call_string

__all__ = ["BfclEntry", "BfclSession", "BfclUnavailable", "CATEGORIES", "Call", "check", "load_entries",
           "parse_call_string"]
