"""The example configs load, and their generation caps leave room for a prompt in the context they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthagent.llm.config import load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
SMALL_CONTEXT = 8192
LONGEST_PROMPT = 3000  # tokens allowed for a prompt: an allowance (estimate), not a measurement


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"llm.yaml", "llm-small-local.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_role_fits_an_8192_token_context(path):
    config = load_config(path)
    for name, role in config.roles.items():
        assert role.max_tokens is not None, f"{path.name}: role {name} has no generation cap"
        assert role.max_tokens + LONGEST_PROMPT <= SMALL_CONTEXT or name == "default", (
            f"{path.name}: {name} max_tokens {role.max_tokens} leaves no room for a prompt in {SMALL_CONTEXT}")
    assert config.roles["teacher"].max_tokens <= SMALL_CONTEXT - LONGEST_PROMPT


def test_the_small_server_config_keeps_queue_time_out_of_the_timeout():
    config = load_config(Path(__file__).resolve().parents[1] / "examples" / "llm-small-local.yaml")
    assert config.concurrency == 1  # one request in flight: timeout_s measures generation, not queueing
    assert all(role.base_url.startswith("http://127.0.0.1") for role in config.roles.values())
