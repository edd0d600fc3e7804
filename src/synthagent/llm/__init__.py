"""The one client layer over the ``openai`` SDK: roles, config, retries, budget, SQLite cache, parsing.

Every model call in synthagent (teacher, user simulator, tool simulator, judge, policy) goes through
:class:`LLMClient`, so concurrency, retries, accounting, budget and caching are solved once.
"""

from importlib import import_module
from typing import Any

# imported on first use, so `synthagent.llm.errors` (which the runtime needs) and `synthagent.llm.parsing`
# load without the `openai` SDK on a core-only install; `LLMClient` needs the `llm` extra
_EXPORTS = {
    "BudgetExceeded": "synthagent.llm.client",
    "ChatResult": "synthagent.llm.client",
    "ConfigError": "synthagent.llm.config",
    "LLMCallError": "synthagent.llm.client",
    "LLMClient": "synthagent.llm.client",
    "LLMConfig": "synthagent.llm.config",
    "LLMError": "synthagent.llm.errors",
    "MalformedResponse": "synthagent.llm.client",
    "ParseError": "synthagent.llm.parsing",
    "ROLE_NAMES": "synthagent.llm.config",
    "ResponseCache": "synthagent.llm.cache",
    "RoleConfig": "synthagent.llm.config",
    "StructuredOutputError": "synthagent.llm.parsing",
    "StructuredResult": "synthagent.llm.parsing",
    "Usage": "synthagent.llm.client",
    "cache_key": "synthagent.llm.cache",
    "chat_structured": "synthagent.llm.parsing",
    "extract_tag": "synthagent.llm.parsing",
    "extract_tags": "synthagent.llm.parsing",
    "json_model": "synthagent.llm.parsing",
    "load_config": "synthagent.llm.config",
    "parse_json_object": "synthagent.llm.parsing",
    "strip_think": "synthagent.llm.parsing",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synthagent.llm' has no attribute {name!r}")
    return getattr(import_module(module), name)


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
