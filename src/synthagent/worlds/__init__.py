"""Offline procedural worlds: domains are data, the engine is code.

Inside: `domains/` (one data file per domain, found without a registry edit), `domain_spec.py` and
`spec_parts.py` (the typed spec a `DOMAIN` dict must match), `operations/` (one module per tool operation:
validation, runtime, tool spec, execution, gold steps, rubric items), `database.py`, `generator.py` (one
seed → one Task), `values.py` (value generators), `leaks.py`. Entry point: `generate_task(get_domain(name),
seed, Knobs.for_difficulty(level), level)`. May import: spec.
"""

from synthagent.worlds.domain_spec import Domain, load_domain, validate_domain
from synthagent.worlds.branching import BranchMix
from synthagent.worlds.generator import Knobs, derive_seed, generate_task
from synthagent.worlds.leaks import Leak, find_leak
from synthagent.worlds.plan import GenerationFailed
from synthagent.worlds.registry import all_domains, domain_names, get_domain
from synthagent.worlds.spec_parts import DomainError

__all__ = ["BranchMix", "Domain", "DomainError", "GenerationFailed", "Knobs", "Leak", "all_domains", "derive_seed",
           "domain_names", "find_leak", "generate_task", "get_domain", "load_domain", "validate_domain"]
