import copy
import subprocess
import sys

import pytest

from synthagent.worlds import GenerationFailed, Knobs, domain_names, find_leak, generate_task, get_domain
from synthagent.worlds import DomainError, validate_domain
from synthagent.worlds.domains import hotel, retail

from testkit import make_task


def test_at_least_twelve_domains():
    assert len(domain_names()) >= 12


def test_same_seed_same_bytes():
    a = make_task("retail", 42, 4).model_dump_json()
    b = make_task("retail", 42, 4).model_dump_json()
    assert a == b
    assert make_task("retail", 43, 4).model_dump_json() != a


def test_same_bytes_in_a_fresh_interpreter():
    """No dependence on hash randomisation or process state: another process produces the same task."""
    code = ("from synthagent.worlds import *;"
            "print(generate_task(get_domain('retail'), 7, Knobs.for_difficulty(5), 5).model_dump_json())")
    env_outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True).stdout
                   for seed in ("1", "2")]
    assert env_outputs[0] == env_outputs[1] == make_task("retail", 7, 5).model_dump_json() + "\n"


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_knobs_are_respected(tasks, level):
    knobs = Knobs.for_difficulty(level)
    for task in (t for t in tasks if t.difficulty == level):
        assert len(task.rubric.subgoals) <= knobs.subgoals
        assert len(task.private_info) == knobs.hidden
        assert sum(t.distractor for t in task.tools) <= knobs.distractors + 1  # + the restricted tool
        assert len(task.rubric.interactions) == len(task.private_info)


def test_every_rubric_item_compiles_to_a_check(tasks):
    for task in tasks:
        for _, items in task.rubric.sections():
            assert all(item.check is not None for item in items), task.id


def test_no_hidden_value_is_visible(tasks):
    for task in tasks:
        assert find_leak(task) is None, task.id


def test_restriction_in_paper_form(tasks):
    restricted = [t for t in tasks if any("must NOT be used to" in rule for rule in t.policy)]
    assert len(restricted) > len(tasks) * 0.8
    for task in restricted:
        rule = next(r for r in task.policy if "must NOT be used to" in r)
        assert rule.startswith("Tool ") and "Violating it fails the task." in rule


def test_zero_hidden_slots_gives_full_instruction():
    task = make_task("retail", 5, 2, hidden=0)
    assert task.private_info == [] and task.rubric.interactions == []
    assert task.instruction == task.full_instruction


def test_bad_knobs_are_rejected():
    with pytest.raises(ValueError):
        Knobs(subgoals=9)
    with pytest.raises(ValueError):
        Knobs.for_difficulty(7)


def test_impossible_knobs_fail_clearly():
    spec = get_domain("retail")
    with pytest.raises(GenerationFailed, match="hidden"):
        generate_task(spec, 1, Knobs(subgoals=1, hidden=5, max_attempts=3), 1)


def test_domain_validation_names_the_path():
    spec = copy.deepcopy(retail.DOMAIN)
    spec["tools"][1]["entity"] = "nope"
    with pytest.raises(DomainError, match=r"retail.*tools\[1\]\.entity"):
        validate_domain(spec)


def test_instructions_are_diverse():
    seen = [make_task(d, s, 1 + s % 5).instruction for d in domain_names() for s in range(60)]
    assert len(set(seen)) / len(seen) >= 0.95


def test_gold_plans_fit_the_runtime_turn_limit():
    from synthagent.sim.runtime import DEFAULT_MAX_TURNS
    from synthagent.worlds.generator import MAX_GOLD_STEPS

    assert MAX_GOLD_STEPS == DEFAULT_MAX_TURNS


def test_ask_keywords_never_overlap_between_hidden_details(tasks):
    for task in tasks:
        for a in task.private_info:
            for b in task.private_info:
                if a.name != b.name:
                    assert not set(a.keywords) & set(b.keywords), (task.id, a.name, b.name)


def test_create_tools_cannot_have_preconditions():
    spec = copy.deepcopy(hotel.DOMAIN)
    create = next(t for t in spec["tools"] if t["op"] == "create")
    create["requires"] = {"field": next(iter(spec["entities"][create["entity"]]["fields"])), "allowed": ["x"]}
    with pytest.raises(DomainError, match="precondition"):
        validate_domain(spec)
