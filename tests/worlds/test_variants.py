"""Identity-field variants (`worlds/variants.py`): a domain verified by another field of the owner's record."""

from __future__ import annotations

import pytest

from synthagent.reward.scorer import score
from synthagent.sim.reference import reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.train.splits import procedural_tasks
from synthagent.worlds.registry import all_domains, domain_names, get_domain, is_known
from synthagent.worlds.spec_parts import DomainError
from synthagent.worlds.variants import verify_variant


def test_every_other_owner_field_of_every_domain_makes_a_valid_variant():
    made = 0
    for domain in all_domains().values():
        for field in domain.owner_entity.fields:
            if field == domain.verify.field:
                continue
            variant = verify_variant(domain, field)
            made += 1
            assert variant.verify.field == field and variant.verify.tool == domain.verify.tool
            assert variant.owner_entity.fields[field].label and variant.owner_entity.fields[field].keywords
            assert [t.name for t in variant.tools] == [t.name for t in domain.tools]
    assert made >= len(all_domains())


def test_retail_verified_by_email_asks_for_the_email_and_its_tasks_are_solvable():
    retail, variant = get_domain("retail"), get_domain("retail~email")
    assert "ZIP code" in retail.tool("verify_customer").description
    assert "ZIP code" not in variant.tool("verify_customer").description
    assert "email" in variant.tool("verify_customer").description
    tasks = procedural_tasks(("retail~email",), (1, 2), 10, seed=4)
    assert len(tasks) == 10 and {t.domain for t in tasks} == {"retail~email"}
    for task in tasks:
        schema = next(t.function for t in task.tools if t.name == "verify_customer")
        assert set(schema.parameters["required"]) == {"customer_id", "email"}
        first = next(a for a in task.gold if a.kind == "call")
        assert set(first.arguments) == {"customer_id", "email"} and "@" in first.arguments["email"]
        # the reference policy, with the scripted user holding the hidden details, solves every task
        traj = run_episode_sync(task, reference_policy("oracle"), ScriptedUser(), ExecutableBackend())
        assert score(task, traj).success, task.id


def test_variants_combine_with_chimeras_and_bad_names_say_why():
    combined = get_domain("retail~email+hotel")
    assert combined.verify.field == "email" and "verify_customer" in {t.name for t in combined.tools}
    assert is_known("bank~email") and "bank~email" not in domain_names()
    for bad in ("retail~nowhere", "retail~zip_code", "retail~", "nowhere~email", "retail~email~name"):
        assert not is_known(bad), bad
    with pytest.raises(DomainError, match="already verifies"):
        get_domain("retail~zip_code")
    with pytest.raises(DomainError, match="not a field"):
        get_domain("retail~nowhere")
