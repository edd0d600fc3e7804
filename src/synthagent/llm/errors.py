"""The base error of the LLM client layer, in a module that does not import the ``openai`` SDK.

The episode runtime must tell "the endpoint failed for good" (an unscored episode) from "the policy
misbehaved" (an agent failure) on every install, including the core-only one without the SDK; so the
class it catches lives here and ``llm.client`` derives its errors from it.
"""

from __future__ import annotations


class LLMError(RuntimeError):
    """Base class of the errors the LLM client layer raises (endpoint failed, budget spent, bad reply)."""
