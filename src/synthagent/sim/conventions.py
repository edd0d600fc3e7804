"""Conversation conventions shared by the scripted user (who reacts to them) and the scorer (who checks them).

A confirmation exchange is an agent message that asks for confirmation (one of CONFIRM_CUES) answered by
a user message that starts affirmatively (AFFIRMATIVE). Keeping both here means the simulator and the
rubric can never disagree about what counts as "the user confirmed".
"""

from __future__ import annotations

import re
from typing import Any

CONFIRM_CUES = ("confirm", "proceed", "go ahead", "shall i", "should i", "do you want me to", "is that ok",
                "is that correct", "may i", "can i go", "would you like me to")

AFFIRMATIVE = re.compile(
    r"^\W*(yes|yeah|yep|sure|ok|okay|correct|confirm(ed)?|please (go ahead|do|proceed)|go ahead|do it|"
    r"that'?s (right|correct|fine)|absolutely|definitely|proceed)\b", re.IGNORECASE)


def asks_confirmation(text: str | None) -> bool:
    lowered = (text or "").lower()
    return any(cue in lowered for cue in CONFIRM_CUES)


NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?!\w)")
PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    return float(text) if PLAIN_NUMBER.fullmatch(text) else None


def mentions(text: str, value: Any) -> bool:
    """Does `text` state `value`? Numbers compare as numbers (8.8 == 8.80, and 3 is not found in 31);
    other values must appear as a whole token sequence, case-insensitively."""
    number = _as_number(value)
    if number is not None:
        return any(abs(float(n) - number) < 1e-9 for n in NUMBER.findall(text.replace(",", "")))
    needle = str(value).strip().lower()
    if not needle:
        return False
    haystack = text.lower()
    start = haystack.find(needle)
    while start >= 0:  # str.find, not a regex per value: this runs for every item of every trajectory
        end = start + len(needle)
        if (start == 0 or not haystack[start - 1].isalnum()) and (end == len(haystack) or not haystack[end].isalnum()):
            return True
        start = haystack.find(needle, start + 1)
    return False
