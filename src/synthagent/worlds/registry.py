"""The registry of procedural domains: every module in `worlds/domains/` that defines `DOMAIN`.

Adding a domain is adding a data file there; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Any

from synthagent.worlds import domains as _domains_pkg
from synthagent.worlds.domain import validate_domain


@lru_cache(maxsize=1)
def all_domains() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for info in sorted(pkgutil.iter_modules(_domains_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_domains_pkg.__name__}.{info.name}")
        spec = getattr(module, "DOMAIN", None)
        if spec is None:
            continue
        validate_domain(spec)
        found[spec["name"]] = spec
    return found


def get_domain(name: str) -> dict[str, Any]:
    domains = all_domains()
    if name not in domains:
        raise KeyError(f"unknown domain {name!r}; known: {', '.join(sorted(domains))}")
    return domains[name]


def domain_names() -> list[str]:
    return sorted(all_domains())
