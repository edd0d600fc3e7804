"""Chimera domains: one domain's customer and identity check with another domain's records and tools.

Why: a model trained on a few domains meets a few fixed pairings of identity check and records (retail's
`verify_customer` always takes a ZIP code and always comes before `get_order`), learns the pairings, and
brings them to a domain it never saw: food_delivery's `verify_customer`, which takes an email, got bank's
key and bank's ID prefix (docs/training.md). A chimera `A+B` keeps A's owner entity and verify tool and
B's other entities, tools, lookups, distractors and restrictions, its records re-owned by A's owner key,
so the same tool names meet other keys and other neighbours, and the pairing must be read, not recalled.
Built only from the domains named, so a chimera of training domains carries nothing of a held-out one.

A chimera is named `A+B` wherever a domain name is taken (`registry.get_domain`); it is built on first use
and validated like any domain, and a pair that cannot be joined (a shared entity, tool or ID prefix) fails
with a DomainError that says why.
"""

from __future__ import annotations

from synthagent.worlds.domain_spec import Domain, load_domain
from synthagent.worlds.spec_parts import DomainError

SEPARATOR = "+"


def is_chimera(name: str) -> bool:
    return SEPARATOR in name


def chimera(owner_from: Domain, records_from: Domain) -> Domain:
    """`owner_from`'s owner and verify tool with `records_from`'s records and tools (see the module docstring)."""
    name = f"{owner_from.name}{SEPARATOR}{records_from.name}"
    if owner_from.name == records_from.name:
        raise DomainError(f"{name}: a chimera joins two different domains")
    owner = owner_from.owner_entity
    records = {k: e for k, e in records_from.entities.items() if k != records_from.owner}
    verify_tool = owner_from.tool(owner_from.verify.tool)
    tools = [t for t in records_from.tools if t.entity != records_from.owner]
    clash = ([f"entity {owner_from.owner!r}"] if owner_from.owner in records else []) + \
        [f"tool {t.name!r}" for t in tools if t.name == verify_tool.name] + \
        [f"ID prefix {owner.id_prefix!r}" for e in records.values() if e.id_prefix == owner.id_prefix]
    if clash:
        raise DomainError(f"{name}: cannot join, both have {', '.join(clash)}")
    old_key = records_from.owner_entity.key

    def reowned(entity):  # records that belonged to B's owner now belong to A's
        return entity.model_copy(update={"owner_field": owner.key}) if entity.owner_field == old_key else entity

    kept = {t.name for t in tools} | {d.name for d in records_from.distractors}
    data = {
        "name": name,
        "title": records_from.title,
        "owner": owner_from.owner,
        "verify": owner_from.verify.model_dump(),
        "entities": {owner_from.owner: owner.model_dump(exclude_none=True),
                     **{k: reowned(e).model_dump(exclude_none=True) for k, e in records.items()}},
        "tools": [verify_tool.model_dump(exclude_none=True), *(t.model_dump(exclude_none=True) for t in tools)],
        "lookups": [lk.model_dump() for lk in records_from.lookups if lk.tool in kept],
        "distractors": [d.model_dump() for d in records_from.distractors],
        "restrictions": [r.model_dump() for r in records_from.restrictions if r.tool in kept],
        "policies": list(records_from.policies),
    }
    return load_domain(data)
