"""The registry of procedural domains: every module in `worlds/domains/` that defines `DOMAIN`.

Adding a domain is adding a data file there; nothing else changes. Each `DOMAIN` dict is loaded into a
typed `Domain` once; a bad one fails with its file and the path of the bad key.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from synthagent.worlds import domains as _domains_pkg
from synthagent.worlds.chimera import SEPARATOR, chimera, is_chimera
from synthagent.worlds.domain_spec import Domain, load_domain
from synthagent.worlds.generated import generated_domain, is_generated
from synthagent.worlds.spec_parts import DomainError
from synthagent.worlds.variants import SEPARATOR as VARIANT, is_variant, verify_variant


@lru_cache(maxsize=1)
def all_domains() -> dict[str, Domain]:
    found: dict[str, Domain] = {}
    for info in sorted(pkgutil.iter_modules(_domains_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_domains_pkg.__name__}.{info.name}")
        data = getattr(module, "DOMAIN", None)
        if data is None:
            continue
        try:
            domain = load_domain(data)
        except DomainError as err:
            raise DomainError(f"{module.__file__}: {err}") from None
        found[domain.name] = domain
    return found


def get_domain(name: str) -> Domain:
    """A registered domain, a generated one `gen-N` (worlds/generated.py), a chimera `A+B` of two domains
    (worlds/chimera.py), or an identity-field variant `A~F` (worlds/variants.py); a chimera's parts may be
    variants or generated."""
    domains = all_domains()
    if name in domains:
        return domains[name]
    if is_generated(name):
        return generated_domain(name)
    if is_chimera(name):
        return _chimera(name)
    if is_variant(name):
        return _variant(name)
    raise KeyError(f"unknown domain {name!r}; known: {', '.join(sorted(domains))} (or gen-N, a generated "
                   f"domain, or A+B, a chimera of two, or A~FIELD, A verified by another owner field)")


@lru_cache(maxsize=None)
def _chimera(name: str) -> Domain:
    parts = name.split(SEPARATOR)
    if len(parts) != 2:
        raise KeyError(f"unknown domain {name!r}: a chimera joins exactly two domains, as A+B")
    return chimera(get_domain(parts[0]), get_domain(parts[1]))


@lru_cache(maxsize=None)
def _variant(name: str) -> Domain:
    parts = name.split(VARIANT)
    if len(parts) != 2 or not parts[1]:
        raise KeyError(f"unknown domain {name!r}: a variant names one domain and one owner field, as A~FIELD")
    return verify_variant(get_domain(parts[0]), parts[1])


def is_known(name: str) -> bool:
    """Whether `get_domain(name)` gives a domain: registered, a chimera of two that join, or a variant."""
    try:
        get_domain(name)
    except (KeyError, DomainError):
        return False
    return True


def domain_names() -> list[str]:
    return sorted(all_domains())
