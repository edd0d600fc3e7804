"""Imports never abort on one bad record: the rest are imported, each reject is listed, --strict keeps all or nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.integrations.synthagent_release import export_record, import_release
from synthagent.spec.io import FormatError, RejectsLog, read_jsonl, rejects_path
from synthagent.spec.models import Task
from synthagent.synth.llm.personas import load_personas

SAMPLE = Path("/work/shared/fixtures/synthagent_release_sample.json")
if not SAMPLE.exists():  # the same five records ship with the tests
    SAMPLE = Path(__file__).resolve().parent / "data" / "synthagent_release_sample.json"


def damaged_release(tmp_path: Path) -> Path:
    """The five sample records with null, missing and malformed fields in some, plus two broken records."""
    records = json.loads(SAMPLE.read_text(encoding="utf-8"))
    records[1]["task_background"] = None  # the authors' code runs it: imported with an empty background
    del records[2]["rubrics"]  # missing
    records[3]["prompt"] = "not a list of messages"  # malformed
    extra_null = json.loads(json.dumps(records[0]))
    extra_null["rubrics"] = None  # null where nothing can stand in
    records += [extra_null, 42]
    path = tmp_path / "release.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


EXPECTED_REJECTS = [(3, "rubrics", "missing"), (4, "prompt", "expected a list of two messages: [system, user]"),
                    (6, "rubrics", "missing"), (7, "<record>", "expected a JSON object, got int")]


def test_import_release_skips_bad_records_and_keeps_the_rest(tmp_path):
    path = damaged_release(tmp_path)
    log = RejectsLog()
    tasks = import_release(path, on_reject=log.add)
    originals = json.loads(path.read_text(encoding="utf-8"))
    assert [t.metadata["release_id"] for t in tasks] == [originals[i]["id"] for i in (0, 1, 4)]
    assert [(r["record"], r["field"], r["reason"]) for r in log.rows()] == EXPECTED_REJECTS
    assert all(r["file"] == str(path) for r in log.rows())
    null_background = tasks[1]
    assert null_background.user_background == "" and null_background.metadata["release_null"] == ["task_background"]
    assert export_record(null_background) == originals[1]  # the null goes back out as a null
    with pytest.raises(FormatError) as info:
        import_release(path)  # no on_reject: the first bad record raises
    assert info.value.line == 3 and info.value.field == "rubrics"


def test_import_release_command_lists_rejects_and_exits_0_or_2_with_strict(tmp_path):
    path = damaged_release(tmp_path)
    out = tmp_path / "tasks.jsonl"
    result = CliRunner().invoke(app, ["import-release", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out, Task)) == 3
    listed = [json.loads(line) for line in rejects_path(out).read_text(encoding="utf-8").splitlines()]
    assert rejects_path(out) == tmp_path / "tasks.rejects.jsonl"
    assert [(r["file"], r["record"], r["field"], r["reason"]) for r in listed] == \
        [(str(path), *row) for row in EXPECTED_REJECTS]
    said = result.output.replace("\n", "")  # rich wraps long lines
    assert "3 tasks written" in said and "4 rejected (rubrics: missing ×2" in said and str(rejects_path(out)) in said

    strict_out = tmp_path / "strict.jsonl"
    strict = CliRunner().invoke(app, ["import-release", str(path), "--out", str(strict_out), "--strict"])
    assert strict.exit_code == 2 and f"{path}:3: field 'rubrics': missing" in strict.output.replace("\n", "")
    assert not strict_out.exists()

    clean = tmp_path / "clean.json"
    shutil.copy(SAMPLE, clean)
    ok = CliRunner().invoke(app, ["import-release", str(clean), "--out", str(tmp_path / "clean.jsonl"), "--strict"])
    assert ok.exit_code == 0 and "5 tasks written" in ok.output
    assert rejects_path(tmp_path / "clean.jsonl").read_text(encoding="utf-8") == ""


def test_jsonl_reader_and_personas_skip_bad_lines_with_their_reasons(tmp_path):
    path = tmp_path / "personas.jsonl"
    path.write_text('{"persona": "a retired ferry captain"}\n{"persona": null}\nnot json\n[1]\n'
                    '{"name": "x"}\n{"persona": "a night-shift nurse"}\n', encoding="utf-8")
    log = RejectsLog()
    assert load_personas(path, on_reject=log.add) == ["a retired ferry captain", "a night-shift nurse"]
    assert [(r["record"], r["field"]) for r in log.rows()] == [(2, "persona"), (3, None), (4, None), (5, "persona")]
    assert "invalid JSON" in log.rows()[1]["reason"] and "expected a JSON object" in log.rows()[2]["reason"]
    assert log.summary().startswith("4 rejected (")
    with pytest.raises(FormatError) as info:
        load_personas(path)
    assert info.value.line == 2 and info.value.field == "persona"
