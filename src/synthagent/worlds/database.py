"""The database a domain describes, drawn from one rng: owners, then each owner's records, then catalogs."""

from __future__ import annotations

import random
from typing import Any

from synthagent.worlds.domain_spec import Domain
from synthagent.worlds.spec_parts import Entity

OWNER_COUNT = (4, 6)
CATALOG_COUNT = (3, 6)


def build_database(domain: Domain, rng: random.Random) -> dict[str, dict[str, dict[str, Any]]]:
    """{table: {key: record}}. Owners first, then records per owner, then unowned tables."""
    db: dict[str, dict[str, dict[str, Any]]] = {}
    used_keys: set[str] = set()

    def new_key(ent: Entity) -> str:
        while True:
            key = f"{ent.id_prefix}-{rng.randrange(100000, 999999)}"
            if key not in used_keys:
                used_keys.add(key)
                return key

    def new_record(ent: Entity) -> dict[str, Any]:
        return {fname: gen(rng, params) for fname, gen, params in ent.drawers}

    owner_name = domain.owner
    owner = domain.owner_entity
    lo, hi = owner.count or OWNER_COUNT
    db[owner_name] = {}
    for _ in range(rng.randint(lo, hi)):
        db[owner_name][new_key(owner)] = new_record(owner)
    for ename, ent in domain.entities.items():
        if ename == owner_name:
            continue
        db[ename] = {}
        if ent.owner_field is not None:
            lo, hi = ent.per_owner
            for owner_key in db[owner_name]:
                for _ in range(rng.randint(lo, hi)):
                    record = new_record(ent)
                    record[ent.owner_field] = owner_key
                    db[ename][new_key(ent)] = record
        else:
            lo, hi = ent.count or CATALOG_COUNT
            for _ in range(rng.randint(lo, hi)):
                db[ename][new_key(ent)] = new_record(ent)
    return db
