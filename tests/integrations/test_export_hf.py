"""`export --format hf`: a folder `datasets.load_dataset` reads back to equal Tasks, with a truthful card."""

from __future__ import annotations

import json
import re

import pytest

datasets = pytest.importorskip("datasets", reason="datasets comes with the train extra, part of `make test`")

from synthagent.exports.hf import card_figures, task_from_row, write_hf  # noqa: E402
from synthagent.spec.models import Task  # noqa: E402


def test_round_trip_to_equal_tasks(tasks, tmp_path):
    sample = tasks[::5]
    out = tmp_path / "ds"
    assert write_hf(sample, out) == len(sample)
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == len(sample)
    # compared as data: pydantic equality also compares private caches (Task.agent_tools), which earlier tests fill
    assert [task_from_row(r).model_dump() for r in loaded] == [t.model_dump() for t in sample]
    assert {r["domain"] for r in loaded} == {t.domain for t in sample}
    for name in ("task", "trajectory", "rubric_result"):
        assert json.loads((out / "schemas" / f"{name}.schema.json").read_text())["title"]
    assert json.loads((out / "schemas" / "task.schema.json").read_text()) == Task.model_json_schema()


def test_card_figures_match_the_data(tasks, tmp_path):
    sample = tasks[::3]
    out = tmp_path / "ds"
    write_hf(sample, out, licence="cc-by-4.0")
    text = (out / "README.md").read_text()
    assert text.startswith("---\nlicense: cc-by-4.0\n")
    rows = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    for domain in {r["domain"] for r in rows}:
        n = sum(r["domain"] == domain for r in rows)
        assert re.search(rf"^\| {domain} \| {n} \|$", text, re.M), domain
    for level in {r["difficulty"] for r in rows}:
        n = sum(r["difficulty"] == level for r in rows)
        assert re.search(rf"^\| {level} \| {n} \|$", text, re.M), level
    fig = card_figures(sample)
    assert sum(fig["domain"].values()) == len(sample) == fig["n"]
    assert f"| none | {len(sample)} |" in text  # procedural tasks carry no branch kind yet
    assert "| procedural/" in text and "None: every task comes from a model-free generator" in text


def test_card_names_the_teacher_when_there_is_one(tasks, tmp_path):
    taught = tasks[0].model_copy(deep=True)
    taught.source.generator, taught.source.params = "synth-llm", {"teacher": "Qwen/Qwen3-235B"}
    write_hf([taught, tasks[1]], tmp_path / "ds")
    assert "| teacher: Qwen/Qwen3-235B | 1 |" in (tmp_path / "ds" / "README.md").read_text()


def test_cli_export_hf(tasks, tmp_path):
    from typer.testing import CliRunner

    from synthagent.cli import app
    from synthagent.spec.io import write_jsonl

    src = tmp_path / "tasks.jsonl"
    write_jsonl(src, tasks[:4])
    result = CliRunner().invoke(app, ["export", "--format", "hf", "--tasks", str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    loaded = datasets.load_dataset(str(tmp_path / "o"), split="train", cache_dir=str(tmp_path / "cache"))
    assert [task_from_row(r).model_dump() for r in loaded] == [t.model_dump() for t in tasks[:4]]
