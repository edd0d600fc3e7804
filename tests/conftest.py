"""Shared fixtures: small procedural task sets, built once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fakeserver.py and helpers
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # if litellm is present, never fetch its price list

from synthagent.worlds import domain_names  # noqa: E402
from testkit import make_task  # noqa: E402


@pytest.fixture(scope="session")
def tasks():
    """Two tasks per domain and difficulty level."""
    return [make_task(d, seed, level) for d in domain_names() for level in range(1, 6) for seed in (11, 12)]
