"""Simulator-quality metrics computed from a finished episode, whichever user simulator played it.

- leaks: ledger values the user said before the agent asked for them (the agent's previous message named
  none of the slot's keywords);
- premature_stop: the user ended the episode before any final answer, for a reason other than running out
  of patience with an unproductive agent or being transferred;
- empty_user_turns: user messages with no text, and user_faults: turns the simulator itself flagged.
"""

from __future__ import annotations

from synthagent.spec.models import Task, Trajectory


LEGITIMATE_STOPS = ("patience", "transfer")


def user_metrics(task: Task, trajectory: Trajectory) -> dict[str, float]:
    leaks = 0
    last_agent_text = ""
    said: set[str] = set()
    empty = faults = 0
    user_seen = 0
    for msg in trajectory.messages:
        if msg.actor == "agent":
            last_agent_text = (msg.content or "").lower()
        elif msg.actor == "user":
            user_seen += 1
            text = (msg.content or "").lower()
            if user_seen > 1 and not text.strip():
                empty += 1
            faults += int(msg.error)
            for slot in task.private_info:
                if slot.name in said or str(slot.value).lower() not in text:
                    continue
                said.add(slot.name)
                asked = any(k in last_agent_text for k in slot.keywords) if slot.keywords else True
                leaks += int(not asked)
    user_turns = max(user_seen - 1, 0)
    return {
        "user_leaks": float(leaks),
        "premature_stop": float(trajectory.termination == "user_stop"
                                and trajectory.meta.get("stop_reason") not in LEGITIMATE_STOPS),
        "empty_user_turns": float(empty),
        "user_faults": float(faults),
        "user_turns": float(user_turns),
    }
