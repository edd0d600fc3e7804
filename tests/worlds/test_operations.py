"""Operations as objects: the typed domain spec, its error paths, the operation registry, and that the
executable backend runs each operation's own execute (the stored runtime round-trips unchanged)."""

import copy
import json
import random

import pytest

from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.spec.worlds import ProceduralWorld
from synthagent.worlds import DomainError, Knobs, all_domains, generate_task, get_domain, load_domain
from synthagent.worlds.database import build_database
from synthagent.worlds.domains import clinic, retail
from synthagent.worlds.operations import OPERATIONS, runtime_from_world

from testkit import make_task


def _bad(mutate, domain=retail.DOMAIN):
    spec = copy.deepcopy(domain)
    mutate(spec)
    with pytest.raises(DomainError) as err:
        load_domain(spec)
    return str(err.value)


def test_every_shipped_domain_is_typed_and_uses_registered_operations():
    for domain in all_domains().values():
        for tool in domain.tools:
            op = OPERATIONS[tool.op]
            assert isinstance(tool, op.tool_model)


def test_unknown_op_names_the_path():
    msg = _bad(lambda s: s["tools"][3].update(op="delete"))
    assert msg.startswith("retail.tools[3].op: must be one of ['verify', 'get', 'list', 'set', 'update', 'create']")


def test_missing_and_unknown_keys_name_the_path():
    assert _bad(lambda s: s["tools"][3].pop("goal")) == "retail.tools[3].goal: missing"
    assert _bad(lambda s: s["tools"][4].update(fild="x")) == "retail.tools[4].fild: unknown key"
    msg = _bad(lambda s: s["entities"]["order"]["fields"]["total"].update(gen="moneyy"))
    assert msg.startswith("retail.entities.order.fields.total.gen: unknown generator 'moneyy'")
    msg = _bad(lambda s: s["tools"][3]["args"]["reason"].update(hideable="perhaps"))
    assert msg.startswith("retail.tools[3].args.reason.hideable:")


def test_cross_references_name_the_path():
    assert _bad(lambda s: s["tools"][4].update(field="colour")) == "retail.tools[4].field: unknown field 'colour'"
    assert _bad(lambda s: s["tools"][2].update(show=["item", "weight"])) == "retail.tools[2].show[1]: unknown field 'weight'"
    assert _bad(lambda s: s["tools"][3]["requires"].update(field="mood")) == \
        "retail.tools[3].requires.field: unknown field 'mood'"
    assert _bad(lambda s: s["lookups"][0].update(tool="cancel_order")) == "retail.lookups[0].tool: must name a get tool"
    assert _bad(lambda s: s["restrictions"][0].update(tool="teleport")) == \
        "retail.restrictions[0].tool: unknown tool 'teleport'"
    assert _bad(lambda s: s["tools"].pop(1)) == \
        "retail.tools[2].entity: no get tool for entity 'order' (the gold plan reads a record before changing it)"


def test_create_arguments_must_be_fields_of_the_record():
    def rename(spec):
        create = next(t for t in spec["tools"] if t["op"] == "create")
        create["args"]["mystery"] = create["args"].pop(next(iter(create["args"])))
    assert ".args.mystery: not a field of entity" in _bad(rename, clinic.DOMAIN)


def test_a_bad_domain_file_is_named(tmp_path, monkeypatch):
    from synthagent.worlds import domains as pkg
    from synthagent.worlds import registry

    spec = copy.deepcopy(retail.DOMAIN) | {"name": "broken"}
    spec["tools"][0]["op"] = "verfy"
    (tmp_path / "broken.py").write_text(f"DOMAIN = {spec!r}\n")
    monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
    registry.all_domains.cache_clear()
    try:
        with pytest.raises(DomainError, match=r"broken\.py: broken\.tools\[0\]\.op: must be one of"):
            registry.all_domains()
    finally:
        monkeypatch.undo()
        registry.all_domains.cache_clear()


def test_a_domain_dict_and_its_typed_domain_give_the_same_task():
    a = generate_task(retail.DOMAIN, 9, Knobs.for_difficulty(3), 3)
    b = generate_task(get_domain("retail"), 9, Knobs.for_difficulty(3), 3)
    assert a.model_dump_json() == b.model_dump_json()


def test_stored_runtimes_round_trip_through_the_typed_models():
    for level in range(1, 6):
        task = make_task("clinic", 3 + level, level)
        assert isinstance(task.world, ProceduralWorld)
        for name, stored in task.world.tools.items():
            found = runtime_from_world(stored)
            assert found is not None, name
            op, runtime = found
            assert op.name == stored["op"]
            assert json.dumps(runtime.to_world()) == json.dumps(stored)


def test_every_operation_executes_through_the_backend():
    """Gold calls of every write op succeed and change the database as the rubric expects; an unknown
    stored op is an error observation, not a crash."""
    seen_ops = set()
    for domain in ("clinic", "retail", "hotel"):
        for seed in range(12):
            task = make_task(domain, seed, 5)
            session = ExecutableBackend().session(task)
            for action in task.gold:
                if action.kind != "call":
                    continue
                result = session.call(action.tool, json.dumps(action.arguments))
                assert not result.error, (task.id, action.tool, result.content)
                seen_ops.add(task.world.tools[action.tool]["op"])
    assert {"verify", "get", "set", "update", "create"} <= seen_ops
    task = make_task("retail", 1, 2)
    stored = dict(task.world.tools)
    list_tool = next(n for n, rt in stored.items() if rt["op"] == "list")
    owner = task.world.user["owner_key"]
    session = ExecutableBackend().session(task)
    listed = json.loads(session.call(list_tool, json.dumps({"customer_id": owner})).content)
    assert {item["order_id"] for item in listed["items"]} == {
        k for k, r in task.world.db["order"].items() if r["customer_id"] == owner}
    task.world.tools[list_tool] = {"op": "teleport"}
    result = ExecutableBackend().session(task).call(list_tool, json.dumps({"customer_id": owner}))
    assert result.error and "no executable implementation" in result.content


def test_preconditions_are_enforced_by_the_operation():
    task = make_task("retail", 2, 1)
    cancel = task.world.tools["cancel_order"]
    order = next(k for k, r in task.world.db["order"].items() if r["status"] not in cancel["requires"]["allowed"])
    result = ExecutableBackend().session(task).call("cancel_order", {"order_id": order, "reason": "ordered by mistake"})
    assert result.error and result.precondition_violation and "not allowed: status is" in result.content


def test_database_is_drawn_from_the_typed_spec():
    domain = get_domain("retail")
    db = build_database(domain, random.Random(5))
    assert 3 <= len(db["customer"]) <= 5
    assert all(r["customer_id"] in db["customer"] for r in db["order"].values())
