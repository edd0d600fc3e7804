"""How much of a task set's rubrics the scorer decides itself: the share of items compiled to checks.

A compiled item is decided by a program that is reproducible, free and cannot be talked round; a judged
item costs a model call and inherits the judge's errors. The share is the first figure to look at when a
reward is noisy, so `synthagent score` prints it overall and per section.
"""

from __future__ import annotations

from typing import Iterable

from synthagent.spec.models import Task

SECTIONS = ("forbidden", "subgoals", "interactions")


def compiled_share(tasks: Iterable[Task]) -> dict[str, dict[str, float | int]]:
    """{"overall" and each section: {"checks", "judged", "share"}}: items with a check, items left to a
    judge, and checks / all items (0.0 for no items)."""
    counts = {name: {"checks": 0, "judged": 0} for name in ("overall", *SECTIONS)}
    for task in tasks:
        for section, items in task.rubric.sections():
            for item in items:
                key = "checks" if item.check is not None else "judged"
                counts[section][key] += 1
                counts["overall"][key] += 1
    return {name: {**c, "share": round(c["checks"] / (c["checks"] + c["judged"]), 4) if c["checks"] + c["judged"]
                   else 0.0} for name, c in counts.items()}


def describe_share(share: dict[str, dict[str, float | int]]) -> str:
    """One line: "rubric items compiled to checks: 54.5% (6 of 11; judged 5) — forbidden 66.7% · …"."""
    def pct(c: dict[str, float | int]) -> str:
        return f"{100 * c['share']:.1f}%"

    o = share["overall"]
    parts = " · ".join(f"{s} {pct(share[s])} ({share[s]['checks']}/{share[s]['checks'] + share[s]['judged']})"
                       for s in SECTIONS)
    return (f"rubric items compiled to checks: {pct(o)} ({o['checks']} of {o['checks'] + o['judged']}; "
            f"judged {o['judged']}) — {parts}")
