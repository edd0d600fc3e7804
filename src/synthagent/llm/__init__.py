"""The one client layer over the ``openai`` SDK: roles, config, retries, budget, SQLite cache, parsing.

Every model call in synthagent (teacher, user simulator, tool simulator, judge, policy) goes through
:class:`LLMClient`, so concurrency, retries, accounting, budget and caching are solved once.
"""

from synthagent.llm.cache import ResponseCache, cache_key
from synthagent.llm.client import (
    BudgetExceeded,
    ChatResult,
    LLMCallError,
    LLMClient,
    LLMError,
    MalformedResponse,
    Usage,
)
from synthagent.llm.config import ROLE_NAMES, ConfigError, LLMConfig, RoleConfig, load_config
from synthagent.llm.parsing import (
    ParseError,
    StructuredOutputError,
    StructuredResult,
    chat_structured,
    extract_tag,
    extract_tags,
    json_model,
    parse_json_object,
    strip_think,
)

__all__ = [
    "ROLE_NAMES",
    "BudgetExceeded",
    "ChatResult",
    "ConfigError",
    "LLMCallError",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "MalformedResponse",
    "ParseError",
    "ResponseCache",
    "RoleConfig",
    "StructuredOutputError",
    "StructuredResult",
    "Usage",
    "cache_key",
    "chat_structured",
    "extract_tag",
    "extract_tags",
    "json_model",
    "load_config",
    "parse_json_object",
    "strip_think",
]
