"""Helpers shared by test modules (import as `from testkit import ...`; conftest is not importable by name)."""

from __future__ import annotations

from synthagent.worlds import Knobs, generate_task, get_domain


def make_task(domain: str = "retail", seed: int = 1, level: int = 3, **overrides):
    return generate_task(get_domain(domain), seed, Knobs.for_difficulty(level, **overrides), level)
