"""Offline procedural worlds: domains are data, the engine is code (stdlib only)."""

from synthagent.worlds.generator import GenerationFailed, Knobs, derive_seed, generate_task
from synthagent.worlds.leaks import Leak, find_leak
from synthagent.worlds.registry import all_domains, domain_names, get_domain

__all__ = ["GenerationFailed", "Knobs", "Leak", "all_domains", "derive_seed", "domain_names", "find_leak", "generate_task",
           "get_domain"]
