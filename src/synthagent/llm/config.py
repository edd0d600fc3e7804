"""YAML configuration for the LLM client layer.

One file names, per role (teacher, user simulator, tool simulator, judge, policy), which model to call at
which OpenAI-compatible endpoint with which sampling settings. Roles left out inherit from ``default``, and
a role given only partly is merged over ``default`` field by field, so a config can say "everything on my
local vLLM, but the judge at temperature 0" in three lines.

API keys never live in the file: a role names the environment variable that holds its key. Local servers
(vLLM, SGLang, llama.cpp, Ollama) accept any key, so a missing variable falls back to the dummy key
``"EMPTY"`` instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

RoleName = Literal["teacher", "user", "tool", "judge", "policy"]
ROLE_NAMES: Final[tuple[str, ...]] = ("teacher", "user", "tool", "judge", "policy")
DEFAULT_ROLE: Final = "default"
DUMMY_API_KEY: Final = "EMPTY"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file, line (when known) and field."""


class RoleConfig(BaseModel):
    """Where and how one role calls its model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    base_url: str = "http://localhost:8000/v1"
    api_key_env: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=120.0, gt=0.0)
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def api_key(self) -> str:
        """The key from the named environment variable, or the dummy key local servers accept."""
        if self.api_key_env is None:
            return DUMMY_API_KEY
        return os.environ.get(self.api_key_env) or DUMMY_API_KEY

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set, in the SDK's keyword names."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        return params


class LLMConfig(BaseModel):
    """The whole client configuration: roles plus the knobs shared by every call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, RoleConfig]
    concurrency: int = Field(default=32, ge=1)
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=30.0, ge=0.0)
    token_budget: int | None = Field(default=None, gt=0)
    cache_path: Path | None = None
    reward: str | None = Field(default=None, description="Reward preset name (paper | authors) for commands "
                               "that compute a reward; a --reward-preset flag overrides it.")

    @field_validator("roles", mode="before")
    @classmethod
    def _merge_over_default(cls, value: Any) -> Any:
        """Reject unknown role names (typos) and merge each partial role over ``default``."""
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(ROLE_NAMES) - {DEFAULT_ROLE})
        if unknown:
            raise ValueError(
                f"unknown role(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join((DEFAULT_ROLE, *ROLE_NAMES))}"
            )
        default = value.get(DEFAULT_ROLE)
        if not isinstance(default, dict):
            return value
        return {
            name: ({**default, **spec} if isinstance(spec, dict) and name != DEFAULT_ROLE else spec)
            for name, spec in value.items()
        }

    @field_validator("roles")
    @classmethod
    def _some_role(cls, value: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        if not value:
            raise ValueError("at least one role (or 'default') must be configured")
        return value

    def role(self, name: str) -> RoleConfig:
        """The settings for ``name``, falling back to ``default``; a clear error when neither exists.

        Only the five role names are accepted, so a misspelt role fails instead of silently running on
        the default model; finer labels (pipeline stages) go in ``chat(..., stage=...)``.
        """
        if name not in ROLE_NAMES:
            raise ConfigError(f"unknown role {name!r}; roles are {', '.join(ROLE_NAMES)}")
        if name in self.roles:
            return self.roles[name]
        if DEFAULT_ROLE in self.roles:
            return self.roles[DEFAULT_ROLE]
        raise ConfigError(
            f"role {name!r} is not configured and there is no 'default' role "
            f"(configured: {', '.join(sorted(self.roles))})"
        )

    @classmethod
    def for_endpoint(cls, base_url: str, model: str, **shared: Any) -> LLMConfig:
        """Every role on one endpoint and model: the common local-server setup, and handy in tests."""
        role_fields = set(RoleConfig.model_fields)
        role = {k: v for k, v in shared.items() if k in role_fields}
        top = {k: v for k, v in shared.items() if k not in role_fields}
        return cls(roles={DEFAULT_ROLE: {"model": model, "base_url": base_url, **role}}, **top)


def load_config(path: str | Path) -> LLMConfig:
    """Read and validate a YAML config; relative ``cache_path`` resolves against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        config = LLMConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, exc)) from exc
    if config.cache_path is not None and not config.cache_path.is_absolute():
        config = config.model_copy(update={"cache_path": path.parent / config.cache_path})
    return config


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    """One line per error: ``file:line: field.path: message``."""
    lines = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if part not in ("function-after", "function-before")]
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: {field}: {error['msg']}")
    return "\n".join(lines)


def _line_of(text: str, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest YAML node on ``loc`` (the field's own line when it exists)."""
    try:
        node: yaml.Node | None = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next((kv for kv in node.value if kv[0].value == str(part)), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line if line is not None else (node.start_mark.line + 1 if node is not None else None)
