"""report, export and import commands: user text with markup prints as itself; folders, empty results and
runs of unknown tasks are one clean error; nothing half-written is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.spec.io import read_jsonl, write_jsonl
from synthagent.spec.models import Task, Trajectory

runner = CliRunner()
RELEASE_SAMPLE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"


@pytest.fixture
def marked(tmp_path) -> tuple[Path, Path, Path]:
    """A folder whose path holds `[/]` and `[bold]`, with tasks and oracle runs in it."""
    folder = tmp_path / "[bold]x["
    folder.mkdir()
    tasks = folder / "[bold red]t.jsonl"
    made = runner.invoke(app, ["synth", "procedural", "--out", str(tasks), "--n", "3", "--domains", "retail"])
    assert made.exit_code == 0, made.output
    runs = folder / "]r.jsonl"  # "x[" + "/" + "]r" puts "[/]" in the path
    rolled = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "oracle", "--out", str(runs)])
    assert rolled.exit_code == 0, rolled.output
    return folder, tasks, runs


def test_report_export_import_print_markup_in_paths_and_fields_as_itself(marked):
    folder, tasks, runs = marked
    # A policy name (a runs field) with markup in it, too.
    records = read_jsonl(runs, Trajectory)
    write_jsonl(runs, [r.model_copy(update={"policy": "[bold]p[/]"}) for r in records])
    site = folder / "]site"
    rep = runner.invoke(app, ["report", "--tasks", str(tasks), "--runs", str(runs), "--out", str(site),
                              "--title", "[bold]T[/]"])
    assert rep.exit_code == 0, rep.output
    assert str(site / "index.html") in rep.output and "x[/]site" in rep.output
    assert "[bold]T[/]" in (site / "index.html").read_text()
    assert "[bold]p[/]" in (site / "data" / "index.js").read_text()

    sft = folder / "]sft.jsonl"
    ex = runner.invoke(app, ["export", "--format", "sft", "--tasks", str(tasks), "--out", str(sft)])
    assert ex.exit_code == 0 and f"rows written to {sft}" in ex.output.replace("\n", "")
    release = folder / "[bold]rel.json"
    er = runner.invoke(app, ["export-release", "--tasks", str(tasks), "--out", str(release)])
    assert er.exit_code == 0 and "[bold]rel.json" in er.output.replace("\n", "")
    back = folder / "]back.jsonl"
    ir = runner.invoke(app, ["import-release", str(release), "--out", str(back)])
    assert ir.exit_code == 0 and "x[/]back.jsonl" in ir.output.replace("\n", "")
    assert len(read_jsonl(back, Task)) == 3
    missing = runner.invoke(app, ["import-release", str(folder / "]none.json"), "--out", str(back)])
    assert missing.exit_code == 2 and "x[/]none.json" in missing.output.replace("\n", "")


def test_report_refuses_runs_of_other_tasks(marked, tmp_path):
    folder, tasks, runs = marked
    others = tmp_path / "other.jsonl"
    assert runner.invoke(app, ["synth", "procedural", "--out", str(others), "--n", "2", "--seed", "5",
                               "--domains", "bank"]).exit_code == 0
    site = tmp_path / "site"
    r = runner.invoke(app, ["report", "--tasks", str(others), "--runs", str(runs), "--out", str(site)])
    assert r.exit_code == 2 and "3 run(s) of 3 task id(s) not in" in r.output.replace("\n", "")
    assert "x[/]r.jsonl" in r.output.replace("\n", "") and not site.exists()


def test_outputs_that_are_folders_are_refused_before_any_work(marked, tmp_path):
    folder, tasks, runs = marked
    for args in (["import-release", str(RELEASE_SAMPLE), "--out", str(folder)],
                 ["import-tau2", "--domain", "retail", "--out", str(folder)],
                 ["export-release", "--tasks", str(tasks), "--out", str(folder)],
                 ["export-tau2", "--tasks", str(tasks), "--out", str(folder)],
                 ["export", "--format", "sft", "--tasks", str(tasks), "--out", str(folder)],
                 ["export", "--format", "verl", "--tasks", str(tasks), "--out", str(folder)]):
        before = sorted(p.name for p in folder.iterdir())
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "is a folder" in r.output, (args[0], r.output)
        assert sorted(p.name for p in folder.iterdir()) == before, f"{args[0]} left something behind"


def test_an_atomic_write_that_fails_leaves_no_tmp(tmp_path, marked):
    _, tasks, _ = marked
    target = tmp_path / "out.jsonl"
    target.mkdir()
    with pytest.raises(OSError):
        write_jsonl(target, read_jsonl(tasks, Task))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.jsonl", "[bold]x["])


def test_export_sft_with_no_rows_says_why_and_writes_nothing(marked, tmp_path):
    folder, tasks, runs = marked
    # Release tasks have judge rubrics and no gold plan that replays offline: no gold rows.
    imported = tmp_path / "release.jsonl"
    assert runner.invoke(app, ["import-release", str(RELEASE_SAMPLE), "--out", str(imported)]).exit_code == 0
    out = tmp_path / "sft.jsonl"
    r = runner.invoke(app, ["export", "--format", "sft", "--tasks", str(imported), "--out", str(out)])
    assert r.exit_code == 2 and "0 SFT rows" in r.output and "--runs" in r.output.replace("\n", "")
    assert not out.exists()
    # Teacher runs none of which reaches --min-reward: the best reward is named.
    eager = tmp_path / "eager.jsonl"
    assert runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "silent", "--out", str(eager)]).exit_code == 0
    r = runner.invoke(app, ["export", "--format", "sft", "--tasks", str(tasks), "--runs", str(eager), "--out", str(out)])
    assert r.exit_code == 2 and "none of the 3 usable run(s) reaches --min-reward 1" in r.output.replace("\n", "")
    assert not out.exists()
    # An empty runs file is an error too.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = runner.invoke(app, ["export", "--format", "sft", "--tasks", str(tasks), "--runs", str(empty), "--out", str(out)])
    assert r.exit_code == 2 and "no runs" in r.output and not out.exists()


def test_export_sft_leaves_unscored_runs_out(marked, tmp_path):
    _, tasks, runs = marked
    records = read_jsonl(runs, Trajectory)
    from synthagent.spec.models import Fault

    records[0] = records[0].model_copy(update={"result": None, "termination": "fault",
                                               "fault": Fault(role="user", message="user simulator: HTTP 500")})
    mixed = tmp_path / "mixed.jsonl"
    write_jsonl(mixed, records)
    out = tmp_path / "sft.jsonl"
    r = runner.invoke(app, ["export", "--format", "sft", "--tasks", str(tasks), "--runs", str(mixed), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 unscored run(s)" in r.output.replace("\n", "")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(records) - 1


def test_summary_tables_fit_80_columns_and_wide_shows_one(marked, tmp_path):
    _, tasks, runs = marked
    records = read_jsonl(runs, Trajectory)
    long_name = "openai:Qwen/Qwen3-8B-Instruct-2507-a-long-served-model-name"
    write_jsonl(runs, [*records, *(r.model_copy(update={"policy": long_name}) for r in records)])
    narrow = runner.invoke(app, ["score", "--runs", str(runs)], terminal_width=80)
    assert narrow.exit_code == 0, narrow.output
    lines = [line for line in narrow.output.splitlines() if line[:1] in "┏┃┡│└"]  # the tables (prose soft-wraps)
    assert len(lines) > 10 and max(len(line) for line in lines) <= 80 and "…" not in narrow.output
    assert "user and tool simulators" in narrow.output
    folded = "".join(line.strip("│ ┃") for line in lines)
    assert "Qwen3-8B-Instruct" in folded  # a long policy name wraps, it is not cut
    wide = runner.invoke(app, ["score", "--runs", str(runs), "--wide"])
    assert wide.exit_code == 0 and "user and tool simulators" not in wide.output
    top = wide.output.splitlines()[0]  # one table holds the 6 result and the 5 simulator columns
    assert top.startswith("┏") and top.count("┳") == 10 and wide.output.count("┏") == 3  # + 2 verdict tables


def test_rollout_prints_the_simulators_of_each_world_kind(tmp_path, marked):
    _, tasks, _ = marked
    r = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "eager", "--out", str(tmp_path / "e.jsonl")])
    assert r.exit_code == 0, r.output
    assert "procedural: 3 task(s); user ScriptedUser, tools ExecutableBackend" in r.output
