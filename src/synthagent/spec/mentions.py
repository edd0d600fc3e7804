"""What it means for a text to state a value: the one definition every layer uses.

The simulated user decides whether the agent already said a value, the rubric's checks whether an answer
or a user turn states it, and synthesis whether an instruction reveals a private value: all call
:func:`mentions`, so the simulator, the rubric and the synthesis gate can never disagree about it.
Numbers compare as numbers (8.8 is stated by "8.80" and "1,234.5" states 1234.5; 3 is not in "31");
other values must appear as a whole token sequence, case-insensitively ("12" is not in "2012").
"""

from __future__ import annotations

import re
from typing import Any

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
