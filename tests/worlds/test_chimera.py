"""Chimera domains (`worlds/chimera.py`): A's customer and identity check, B's records and tools."""

from __future__ import annotations

import pytest

from synthagent.train.splits import procedural_tasks
from synthagent.worlds.chimera import chimera
from synthagent.worlds.registry import all_domains, domain_names, get_domain, is_known
from synthagent.worlds.spec_parts import DomainError


def test_every_pair_of_registered_domains_joins_into_a_valid_domain():
    domains = all_domains()
    for a in domains.values():
        for b in domains.values():
            if a.name == b.name:
                continue
            c = chimera(a, b)
            assert c.name == f"{a.name}+{b.name}" and c.owner == a.owner and c.verify == a.verify
            assert c.tool(a.verify.tool) == a.tool(a.verify.tool)
            assert {t.name for t in c.tools} == {a.verify.tool} | {t.name for t in b.tools if t.entity != b.owner}
            for name, entity in c.entities.items():  # B's records now belong to A's owner
                if name != c.owner:
                    assert entity.owner_field in (None, a.owner_entity.key)
                    assert entity.id_prefix == b.entities[name].id_prefix


def test_a_chimera_s_tasks_verify_with_a_s_key_and_act_on_b_s_records():
    tasks = procedural_tasks(("bank+hotel",), (1, 2), 12, seed=3)
    assert len(tasks) == 12 and {t.domain for t in tasks} == {"bank+hotel"}  # every one passed its self-test
    bank, hotel = get_domain("bank"), get_domain("hotel")
    for task in tasks:
        names = {t.name for t in task.tools}
        assert "verify_customer" in names and "verify_guest" not in names
        assert {t.name for t in hotel.tools if t.entity != hotel.owner} <= names
        first = next(a for a in task.gold if a.kind == "call")
        assert first.tool == "verify_customer" and set(first.arguments) == {"customer_id", bank.verify.field}
        assert first.arguments["customer_id"].startswith(bank.owner_entity.id_prefix + "-")


def test_chimera_names_are_taken_where_domain_names_are_and_bad_ones_say_why():
    assert is_known("retail+hotel") and get_domain("retail+hotel") is get_domain("retail+hotel")
    assert "retail+hotel" not in domain_names()  # listed domains stay the registered ones
    for bad in ("retail+hotel+bank", "retail+nowhere", "retail+retail", "nowhere"):
        assert not is_known(bad)
    with pytest.raises(KeyError, match="exactly two"):
        get_domain("retail+hotel+bank")
    with pytest.raises(DomainError, match="two different domains"):
        get_domain("retail+retail")
