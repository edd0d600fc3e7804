"""JSON on the per-call path, through orjson.

Every model call renders its request twice (the canonical form hashed into the cache key, the compact
body sent to the endpoint) and parses one reply; with messages of tens of kilobytes the standard library
spends ~0.1 ms on each rendering, a large share of what one call may cost at a thousand calls per
second. orjson does the same in a few microseconds. The canonical form (sorted keys, compact, UTF-8) is
what :func:`synthagent.llm.cache.cache_key` hashes, so it must never depend on whether some optional
package is installed: orjson is a core dependency, not an optional speed-up.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
"""A subclass of :class:`json.JSONDecodeError` (and so of ``ValueError``)."""


_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_COMPACT = orjson.OPT_NON_STR_KEYS  # integer keys (``logit_bias``) become strings, as with json.dumps


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same bytes for equal values, whatever the key order."""
    return orjson.dumps(value, option=_CANONICAL)


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order."""
    return orjson.dumps(value, option=_COMPACT)


def loads(blob: bytes | bytearray | memoryview | str) -> Any:
    """Strict JSON (no ``NaN`` or ``Infinity``, which the standard library accepts)."""
    return orjson.loads(blob)
