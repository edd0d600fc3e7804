"""`synthagent report` as a typer command: good files make a site, bad ones name file, line and field."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from synthagent.report.cli import register
from synthagent.spec.io import write_jsonl


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer in multi-command mode, as in the real CLI
    def noop() -> None:
        pass

    return app


def test_report_command(sample, tmp_path):
    tasks, runs = sample
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    half = len(runs) // 2
    write_jsonl(tmp_path / "a.jsonl", runs[:half])
    write_jsonl(tmp_path / "b.jsonl", runs[half:])
    out = tmp_path / "site"
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "a.jsonl"), "--runs", str(tmp_path / "b.jsonl"),
                                             "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out / "index.html") in result.output
    assert len(list((out / "data" / "t").glob("*.js"))) == len(tasks)


def test_runs_of_unknown_tasks_are_refused(sample, tmp_path):
    tasks, runs = sample
    write_jsonl(tmp_path / "tasks.jsonl", tasks[1:])
    write_jsonl(tmp_path / "runs.jsonl", runs)
    out = tmp_path / "site"
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "runs.jsonl"), "--out", str(out)])
    n = sum(r.task_id == tasks[0].id for r in runs)
    assert result.exit_code == 2
    assert f"{n} run(s) of 1 task id(s) not in" in result.output and tasks[0].id in result.output
    assert not out.exists()


def test_out_that_is_a_file_is_refused(sample, tmp_path):
    tasks, runs = sample
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "runs.jsonl", runs)
    (tmp_path / "site").write_text("keep me")
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "runs.jsonl"), "--out", str(tmp_path / "site")])
    assert result.exit_code == 2 and "not a folder" in result.output
    assert (tmp_path / "site").read_text() == "keep me"


def test_bad_record_names_file_line_and_field(sample, tmp_path):
    tasks, runs = sample
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    lines = [r.model_dump(mode="json") for r in runs[:3]]
    lines[1]["termination"] = "exploded"
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "runs.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "runs.jsonl:2" in result.output and "termination" in result.output
    assert not (tmp_path / "o" / "index.html").exists()


def test_invalid_json_and_missing_file(sample, tmp_path):
    (tmp_path / "tasks.jsonl").write_text('{"id": "x"\n')
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "tasks.jsonl:1" in result.output and "invalid JSON" in result.output
    write_jsonl(tmp_path / "tasks.jsonl", sample[0])
    result = CliRunner().invoke(make_app(), ["report", "--tasks", str(tmp_path / "tasks.jsonl"),
                                             "--runs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "nope.jsonl" in result.output
