"""Shared fixtures: small procedural task sets, built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fakeserver.py and helpers

from synthagent.worlds import Knobs, domain_names, generate_task, get_domain  # noqa: E402


def make_task(domain: str = "retail", seed: int = 1, level: int = 3, **overrides):
    return generate_task(get_domain(domain), seed, Knobs.for_difficulty(level, **overrides), level)


@pytest.fixture(scope="session")
def tasks():
    """Two tasks per domain and difficulty level."""
    return [make_task(d, seed, level) for d in domain_names() for level in range(1, 6) for seed in (11, 12)]
