"""What counts as "the user confirmed": shared by the scripted user (who reacts to it) and the scorer (who
checks it), so the simulator and the rubric can never disagree about it.

A confirmation exchange is an agent message that asks for confirmation (one of CONFIRM_CUES) answered by
a user message that starts affirmatively (AFFIRMATIVE).
"""

from __future__ import annotations

import re

CONFIRM_CUES = ("confirm", "proceed", "go ahead", "shall i", "should i", "do you want me to", "is that ok",
                "is that correct", "may i", "can i go", "would you like me to")

AFFIRMATIVE = re.compile(
    r"^\W*(yes|yeah|yep|sure|ok|okay|correct|confirm(ed)?|please (go ahead|do|proceed)|go ahead|do it|"
    r"that'?s (right|correct|fine)|absolutely|definitely|proceed)\b", re.IGNORECASE)


def asks_confirmation(text: str | None) -> bool:
    lowered = (text or "").lower()
    return any(cue in lowered for cue in CONFIRM_CUES)
