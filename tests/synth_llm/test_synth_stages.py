"""Stage parsers (A, B, C, E), the gate (F), near-duplicate detection, personas and unit ids."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402

from synthagent.llm.parsing import ParseError  # noqa: E402
from synthagent.spec.io import FormatError  # noqa: E402
from synthagent.spec.models import Counters, FunctionCall, Message, ToolCall, Trajectory  # noqa: E402
from synthagent.spec.mentions import mentions  # noqa: E402
from synthagent.synth.llm.outcome import StageRejected  # noqa: E402
from synthagent.synth.llm.stage_prompts import render  # noqa: E402
from synthagent.synth.llm.dedup import NearDupIndex, jaccard, shingles  # noqa: E402
from synthagent.synth.llm.models import Unit  # noqa: E402
from synthagent.synth.llm.personas import load_personas, make_units, unit_id  # noqa: E402
from synthagent.synth.llm.engine import assemble_task, finish_task  # noqa: E402
from synthagent.synth.llm.design import parse_design  # noqa: E402
from synthagent.synth.llm.underspecification import parse_rewrite  # noqa: E402
from synthagent.synth.llm.toolcheck import parse_toolcheck  # noqa: E402
from synthagent.synth.llm.teacher_runs import describe_end, summarize_run  # noqa: E402
from synthagent.synth.llm.rubric import gold_from_run, parse_rubric, render_run  # noqa: E402
from synthagent.synth.llm.quality_gate import find_leak, gate  # noqa: E402
from synthagent.synth.llm.state import UnitState  # noqa: E402

PERSONA = "A hospital pharmacist who reconciles medication orders against patient allergies"
UNIT = Unit(index=0, persona=PERSONA, seed=0, id=unit_id(PERSONA, 0))


def design_reply(**changes: object) -> str:
    text = fake.stage_a(render("A", persona=PERSONA, variation=0), 1)
    data = json.loads(fake.between(text, "task_design"))
    data.update(changes)
    return fake.tag("task_design", data)


def design():
    return parse_design(design_reply())


def rewrite_reply(d, **changes: object) -> str:
    from synthagent.synth.llm.design import design_json

    data = json.loads(fake.between(fake.stage_b(render("B", task_design=design_json(d)), 0), "rewrite"))
    data.update(changes)
    return fake.tag("rewrite", data)


def toolcheck_reply(d, r) -> dict:
    from synthagent.synth.llm.design import design_json

    prompt = render("C", task_design=design_json(d), instruction=r.instruction, background=r.background,
                    restricted_tool=d.restricted_tool)
    return json.loads(fake.between(fake.stage_c(prompt, 0), "tool_check"))


# ------------------------------------------------------------------------------------------------- A


def test_stage_a_accepts_a_valid_design_and_finds_the_restricted_tool() -> None:
    d = design()
    assert 3 <= len(d.tools) <= 5 and 5 <= len(d.workflow) <= 7
    assert d.restricted_tool.startswith("notify_") and d.restricted_tool in [t.name for t in d.tools]
    assert d.tools[0].spec().returns == d.tools[0].outputs  # the paper's outputs → our ToolSpec.returns


def test_stage_a_accepts_outputs_inside_function_and_returns_spelling() -> None:
    data = json.loads(fake.between(design_reply(), "task_design"))
    data["tools"][0]["function"]["outputs"] = data["tools"][0].pop("outputs")
    data["tools"][1]["returns"] = data["tools"][1].pop("outputs")
    d = parse_design(fake.tag("task_design", data))
    assert d.tools[0].outputs["type"] == "object" and d.tools[1].outputs["type"] == "object"


@pytest.mark.parametrize("changes, reason", [
    ({"restriction": "Do not spam anyone."}, "restriction is not in the required form"),
    ({"restriction": "Tool nope_tool must NOT be used to x. This restriction exists because y. Violating it fails "
                     "the task."}, "not one of the tools"),
    ({"workflow": ["a", "b", "c"]}, "workflow has 3 steps"),
])
def test_stage_a_rejects_with_a_precise_reason(changes: dict, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_design(design_reply(**changes))


def test_stage_a_rejects_tool_count_missing_outputs_bad_schema_and_missing_tag() -> None:
    data = json.loads(fake.between(design_reply(), "task_design"))
    two = copy.deepcopy(data)
    two["tools"] = two["tools"][:2]
    with pytest.raises(ParseError, match="2 tools; it needs 3 to 5"):
        parse_design(fake.tag("task_design", two))
    no_outputs = copy.deepcopy(data)
    del no_outputs["tools"][0]["outputs"]
    with pytest.raises(ParseError, match="outputs"):
        parse_design(fake.tag("task_design", no_outputs))
    bad_schema = copy.deepcopy(data)
    bad_schema["tools"][0]["outputs"] = {"type": "object", "properties": {"x": {"type": "strng"}}}
    with pytest.raises(ParseError, match="not a valid JSON Schema"):
        parse_design(fake.tag("task_design", bad_schema))
    with pytest.raises(ParseError, match="no <task_design>"):
        parse_design(json.dumps(data))
    with pytest.raises(ParseError, match="never closed"):
        parse_design(design_reply()[:200])


# ------------------------------------------------------------------------------------------------- B


def test_stage_b_builds_a_typed_ledger() -> None:
    d = design()
    r = parse_rewrite(rewrite_reply(d), d)
    slots = [s.private_slot() for s in r.ledger]
    assert [s.name for s in slots] == ["record_ref", "new_date", "full_name"]
    assert slots[0].required and not slots[2].required and "record" in slots[0].keywords


@pytest.mark.parametrize("instruction, reason", [
    ("Please help. I need my record changed.", "exactly one sentence"),
    ("Could you run {tool} for me please?", "names the tool"),
    ("Please first look it up, then change it, and finally notify me.", "steps of a workflow"),
    ("Could you fix record {ref} for me?", "reveals the private value"),
])
def test_stage_b_rejects_bad_instructions(instruction: str, reason: str) -> None:
    d = design()
    ref = json.loads(fake.between(rewrite_reply(d), "rewrite"))["ledger"][0]["value"]
    text = instruction.format(tool=d.tools[0].name, ref=ref)
    with pytest.raises(ParseError, match=reason):
        parse_rewrite(rewrite_reply(d, instruction=text), d)


def test_stage_b_rejects_values_missing_from_the_background_and_no_required_slot() -> None:
    d = design()
    data = json.loads(fake.between(rewrite_reply(d), "rewrite"))
    data["ledger"][0]["value"] = "ZZZ-0000"
    with pytest.raises(ParseError, match="does not appear in the background"):
        parse_rewrite(fake.tag("rewrite", data), d)
    data = json.loads(fake.between(rewrite_reply(d), "rewrite"))
    for slot in data["ledger"]:
        slot["required"] = False
    with pytest.raises(ParseError, match="no required fact"):
        parse_rewrite(fake.tag("rewrite", data), d)


# ------------------------------------------------------------------------------------------------- C


def test_stage_c_marks_distractors_and_checks_the_tool_set() -> None:
    d = design()
    r = parse_rewrite(rewrite_reply(d), d)
    data = toolcheck_reply(d, r)
    checked = parse_toolcheck(fake.tag("tool_check", data), d)
    specs = checked.specs()
    assert [s.distractor for s in specs].count(True) == len(checked.distractors) >= 1
    assert checked.removed[0].name.startswith("format_")

    no_restricted = copy.deepcopy(data)
    no_restricted["tools"] = [t for t in data["tools"] if t["function"]["name"] != d.restricted_tool]
    no_restricted["removed"].append({"name": d.restricted_tool, "reason": "x"})
    with pytest.raises(ParseError, match="restricted tool"):
        parse_toolcheck(fake.tag("tool_check", no_restricted), d)
    unaccounted = copy.deepcopy(data)
    unaccounted["removed"] = []
    with pytest.raises(ParseError, match="neither kept nor listed"):
        parse_toolcheck(fake.tag("tool_check", unaccounted), d)
    no_distractor = copy.deepcopy(data)
    no_distractor["distractors"] = []
    with pytest.raises(ParseError, match="0 distractors"):
        parse_toolcheck(fake.tag("tool_check", no_distractor), d)
    big = copy.deepcopy(data)
    big["tools"][0]["outputs"] = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(12)}}
    with pytest.raises(ParseError, match="12 top-level fields"):
        parse_toolcheck(fake.tag("tool_check", big), d)
    renamed = copy.deepcopy(data)
    renamed["tools"][0]["function"]["name"] = "brand_new_tool"
    with pytest.raises(ParseError, match="not tools of the task"):
        parse_toolcheck(fake.tag("tool_check", renamed), d)


# --------------------------------------------------------------------------------------------- E, F


def _run(answered: bool, tool_error: bool = False) -> Trajectory:
    messages = [Message(role="system", actor="system", content="p"),
                Message(role="user", actor="user", content="help me"),
                Message(role="assistant", actor="agent", content="Could you tell me the record reference?"),
                Message(role="user", actor="user", content="It is REF-1234."),
                Message(role="assistant", actor="agent", tool_calls=[ToolCall(id="c1", function=FunctionCall(
                    name="get_x", arguments='{"record_id": "REF-1234"}'))]),
                Message(role="tool", actor="tool", content="Error: unknown argument" if tool_error else '{"ok": true}',
                        tool_call_id="c1", name="get_x", error=tool_error),
                Message(role="assistant", actor="agent", content="<answer>Done.</answer>" if answered else "Hmm.")]
    return Trajectory(task_id="t", policy="teacher", messages=messages,
                      termination="answer" if answered else "max_turns", answer="Done." if answered else None,
                      counters=Counters(agent_turns=3, tool_calls=1, user_turns=2, tool_errors=int(tool_error)))


PARTS = {"question": "Which record is it?", "sufficient": "The user names the record before a call uses it.",
         "premature": "Looking up an assumed record."}


def test_a_run_is_usable_only_if_it_answered_after_a_tool_call_that_worked() -> None:
    assert summarize_run(_run(True)).usable and summarize_run(_run(True)).tool_results == 1
    failed_tools = summarize_run(_run(True, tool_error=True))
    assert failed_tools.answered and not failed_tools.usable and failed_tools.tool_results == 0
    assert not summarize_run(_run(False)).usable
    assert describe_end(_run(True, tool_error=True)) == "answer with no working tool call (1 calls, 1 errors)"
    rubric = {"verdict": "KEEP", "reason": "run 1", "best_run": 1,
              "subgoals": [{"goal": "Look up", "completion": "called get_x"}],
              "interactions": [{"ask": "the record reference", "slot": "record_ref", **PARTS}]}
    with pytest.raises(ParseError, match=r"tool call that worked \(one of \[2\]\)"):
        parse_rubric(fake.tag("rubric", rubric), [_run(True, tool_error=True), _run(True)], ["record_ref"])


def test_stage_e_requires_an_answered_best_run_and_builds_gold() -> None:
    runs = [_run(False), _run(True)]
    rubric = {"verdict": "keep", "reason": "run 2 fits", "best_run": 1, "forbidden": ["Never notify others."],
              "subgoals": [{"goal": "Look up", "completion": "called get_x"}],
              "interactions": [{"ask": "the record reference", "slot": "record_ref", **PARTS}]}
    with pytest.raises(ParseError, match=r"one of \[2\]"):
        parse_rubric(fake.tag("rubric", rubric), runs, ["record_ref"])
    draft = parse_rubric(fake.tag("rubric", {**rubric, "best_run": 2}), runs, ["record_ref"])
    assert draft.verdict == "KEEP" and draft.forbidden[0].behaviour == "Never notify others."
    discard = parse_rubric(fake.tag("rubric", {"verdict": "DISCARD", "reason": "runs diverge"}), runs, [])
    assert discard.verdict == "DISCARD"
    d = design()
    r = parse_rewrite(rewrite_reply(d), d)
    gold = gold_from_run(runs[1], [s.private_slot() for s in r.ledger])
    assert [g.kind for g in gold] == ["ask", "call", "answer"]
    assert gold[0].slot == "record_ref" and gold[1].arguments == {"record_id": "REF-1234"}
    assert "Run 2 (ended with: answer" in render_run(2, runs[1])


def _candidate(tool_description: str | None = None):
    d = design()
    r = parse_rewrite(rewrite_reply(d), d)
    data = toolcheck_reply(d, r)
    if tool_description is not None:
        data["distractors"][0]["function"]["description"] = tool_description
    checked = parse_toolcheck(fake.tag("tool_check", data), d)
    task = assemble_task(UNIT, d, r, checked, "teacher-model")
    runs = [_run(True)]
    draft = parse_rubric(fake.tag("rubric", {"verdict": "KEEP", "reason": "fine", "best_run": 1,
                                             "subgoals": [{"goal": "Look up", "completion": "called"}],
                                             "interactions": [{"ask": "the reference", **PARTS}]}), runs, [])
    finish_task(task, draft, d, runs, UnitState(Path("unused"), UNIT))
    return task, r


def test_stage_f_gate_passes_a_good_task_and_catches_a_leak_in_a_distractor() -> None:
    task, _ = _candidate()
    assert gate(task).rubric.forbidden[0].criterion.startswith("Tool notify_")  # restriction added first
    assert task.rubric.subgoals[0].check is None  # judged later
    ref = task.private_info[0].value
    leaky, _ = _candidate(f"Archive files such as {ref}.")
    with pytest.raises(StageRejected) as info:
        gate(leaky)
    assert info.value.stage == "F" and info.value.kind == "leak" and "record_ref" in info.value.reason
    assert find_leak(task) is None


def test_mentions_matches_whole_tokens_only() -> None:
    assert mentions("Order REF-12 please", "ref-12") and not mentions("in 2012", "12")
    assert mentions("pay $45.50 now", "$45.50")


# (text, value, whether the text states the value): tokens, case, numbers written differently, digits inside
# longer numbers or codes, punctuation at the edges
MENTION_CASES = [
    ("Order REF-12 please", "ref-12", True), ("in 2012", "12", False), ("pay $45.50 now", "$45.50", True),
    ("it costs 8.80 dollars", 8.8, True), ("it costs 8.80 dollars", "8.8", True), ("total: 1,234.50", "1234.5", True),
    ("room 31", 3, False), ("ORD-12345", "1234", False), ("Status: Shipped.", "shipped", True),
    ("unshipped", "shipped", False), ("my zip is 37519", 37519, True), ("zip 37519-2201", "37519", True),
]


@pytest.mark.parametrize("text, value, stated", MENTION_CASES)
def test_simulator_rubric_and_synthesis_agree_on_what_states_a_value(text: str, value: object, stated: bool) -> None:
    """The simulated user, the rubric's checks, the synthesis gate and the procedural generator's leak check use
    one ``mentions``, so they cannot disagree: shown on the same cases through each one's own entry point."""
    from types import SimpleNamespace

    import synthagent.reward.checks as checks
    import synthagent.sim.users.scripted as scripted
    import synthagent.synth.llm.quality_gate as quality_gate
    import synthagent.synth.llm.underspecification as underspecification
    import synthagent.worlds.generator as generator
    import synthagent.worlds.leaks as leaks

    assert scripted.mentions is checks.mentions is leaks.mentions is underspecification.mentions is mentions
    assert quality_gate.find_leak is generator.find_leak is leaks.find_leak  # synthesis and procedural alike
    assert mentions(text, value) is stated
    # the rubric: an answer_contains check on a final answer that is `text` (its mention rule; grounding is tested apart)
    answer = SimpleNamespace(answer=text, trajectory=SimpleNamespace(termination="answer", messages=[None]))
    assert checks.answer_contains(answer, {"values": [value], "grounded": False})[0] is stated  # mention rule alone
    # the synthesis gate: a private value that the instruction states is a leak
    task, _ = _candidate()
    slot = task.private_info[0].model_copy(update={"value": value})
    leaky = task.model_copy(update={"instruction": text, "private_info": [slot], "policy": [], "tools": []})
    assert (find_leak(leaky) is not None) is stated


# ---------------------------------------------------------------------------------------------- dedup


def test_near_duplicates_are_found_and_distinct_texts_kept() -> None:
    index = NearDupIndex(0.8)
    base = "Could you help me reschedule my dentist appointment next week? find dentist slots get patient record"
    assert index.check_and_add("a", base) is None
    dup = index.check_and_add("b", base.replace("?", "!").upper())
    assert dup is not None and dup.of == "a" and dup.similarity == 1.0
    assert index.check_and_add("c", "Please order reagents for the microscope lab; book shared microscope time") is None
    assert len(index) == 2
    assert jaccard(shingles("a b c d"), shingles("a b c e")) == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------ personas, units


def test_shipped_personas_load_and_user_files_report_file_line_field(tmp_path: Path) -> None:
    personas = load_personas()
    assert len(personas) >= 50 and len(set(personas)) == len(personas)
    path = tmp_path / "p.jsonl"
    path.write_text('{"persona": "A nurse"}\n{"persona": "A nurse"}\n{"name": "no persona"}\n')
    with pytest.raises(FormatError) as info:
        load_personas(path)
    assert f"{path}:3" in str(info.value) and "persona" in str(info.value)
    path.write_text('{"persona": "A nurse", "id": 7}\n{"persona": "A  nurse"}\n')
    assert load_personas(path) == ["A nurse"]  # extra fields ignored, whitespace-equal duplicates dropped


def test_unit_ids_are_deterministic_and_seeds_advance_past_the_persona_list() -> None:
    units = make_units(["p1", "p2"], 5, seed=7)
    assert [(u.persona, u.seed) for u in units] == [("p1", 7), ("p2", 7), ("p1", 8), ("p2", 8), ("p1", 9)]
    assert units[0].id == unit_id("p1", 7) == make_units(["p1"], 1, seed=7)[0].id
    assert len({u.id for u in units}) == 5


def test_stage_e_compiles_ledger_items_and_leaves_to_the_judge_what_fails_on_the_gold_run() -> None:
    d = design()
    r = parse_rewrite(rewrite_reply(d), d)
    task = assemble_task(UNIT, d, r, parse_toolcheck(fake.tag("tool_check", toolcheck_reply(d, r)), d), "teacher-model")
    ref = str(task.slot("record_ref").value)
    runs = [Trajectory.model_validate_json(_run(True).model_dump_json().replace("REF-1234", ref))]
    other = next(s.name for s in task.private_info if s.name != "record_ref")
    draft = parse_rubric(fake.tag("rubric", {
        "verdict": "KEEP", "reason": "fine", "best_run": 1,
        "subgoals": [{"goal": "Look up", "completion": "called", "tool": "get_x"}, {"goal": "Tell", "completion": "told"}],
        "interactions": [{"ask": "the reference", "slot": "record_ref", **PARTS}, {"ask": "more", "slot": other, **PARTS}]}),
        runs, [s.name for s in task.private_info])
    finish_task(task, draft, d, runs, UnitState(Path("unused"), UNIT))
    rubric = task.rubric
    assert rubric.forbidden[1].check.op == "no_unasked_arguments"  # the anti-fabrication item, compiled
    assert rubric.subgoals[0].check.args == {"tool": "get_x", "args": {"record_id": ref}, "grounded": True}
    assert rubric.subgoals[1].check is None  # no tool: judged
    assert rubric.interactions[0].check.args["used"] is True
    assert rubric.interactions[1].check is None  # the gold run never obtained it: back to the judge, and counted
    assert task.metadata["rubric_compile"] == {"checks": 3, "judged": 3, "demoted": ["interaction-2"]}
    assert rubric.interactions[1].interaction.premature == PARTS["premature"]
    with pytest.raises(ParseError, match="one per workflow step"):
        parse_rubric(fake.tag("rubric", {**draft.model_dump(), "best_run": 1}), runs, [], n_steps=6)
