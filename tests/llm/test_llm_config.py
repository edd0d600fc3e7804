"""Config loading: role fallback, keys from the environment, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthagent.llm import ConfigError, LLMConfig, load_config
from synthagent.llm.config import DUMMY_API_KEY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llm.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "llm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_roles_merge_over_default() -> None:
    config = load_config(EXAMPLE)
    judge, teacher, policy = config.role("judge"), config.role("teacher"), config.role("policy")
    assert judge.temperature == 0.0 and judge.base_url == "http://localhost:8000/v1"
    assert teacher.max_tokens == 4096 and teacher.top_p == 0.95  # own field, inherited field
    assert policy.base_url == "http://localhost:8001/v1" and policy.model == "Qwen/Qwen3-8B"
    assert config.cache_path == EXAMPLE.parent / ".synthagent" / "llm-cache.sqlite"


def test_omitted_role_falls_back_to_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "roles:\n  default: {model: m}\n  judge: {model: j}\n"))
    assert config.role("user").model == "m"
    assert config.role("judge").model == "j"


def test_role_without_default_is_a_clear_error() -> None:
    config = LLMConfig(roles={"judge": {"model": "j"}})
    with pytest.raises(ConfigError, match="role 'teacher' is not configured"):
        config.role("teacher")
    with pytest.raises(ConfigError, match="unknown role 'judeg'"):
        config.role("judeg")


def test_api_key_comes_only_from_the_named_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write(tmp_path, "roles:\n  default: {model: m, api_key_env: MY_TEST_KEY}\n"))
    monkeypatch.delenv("MY_TEST_KEY", raising=False)
    assert config.role("teacher").api_key() == DUMMY_API_KEY
    monkeypatch.setenv("MY_TEST_KEY", "sk-test")
    assert config.role("teacher").api_key() == "sk-test"
    with pytest.raises(ConfigError, match="api_key"):
        load_config(write(tmp_path, "roles:\n  default: {model: m, api_key: sk-secret}\n"))


def test_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "concurrency: 8\nroles:\n  default:\n    model: m\n  judge:\n    temperature: hot\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:6: roles.judge.temperature:" in message
    assert "valid number" in message


def test_unknown_role_and_unknown_key_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown role\\(s\\) 'teachr'"):
        load_config(write(tmp_path, "roles:\n  default: {model: m}\n  teachr: {model: t}\n"))
    with pytest.raises(ConfigError, match=r"llm.yaml:1: concurrenccy: Extra inputs"):
        load_config(write(tmp_path, "concurrenccy: 3\nroles:\n  default: {model: m}\n"))


def test_missing_model_and_bad_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"llm.yaml:3: roles.judge.model: Field required"):
        load_config(write(tmp_path, "roles:\n  user: {model: u}\n  judge: {temperature: 0}\n"))
    with pytest.raises(ConfigError, match=r"roles.default.base_url: .*http://"):
        load_config(write(tmp_path, "roles:\n  default: {model: m, base_url: localhost:8000}\n"))


def test_invalid_yaml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"llm.yaml:3: invalid YAML"):
        load_config(write(tmp_path, "roles:\n  default: {model: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(write(tmp_path, "- just a list\n"))
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")
