"""Resume checks its settings, duplicates count once, user text is never markup, bad input is one clean error."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task, Trajectory

runner = CliRunner()


def synth(out, *extra):
    return runner.invoke(app, ["synth", "procedural", "--out", str(out), "--domains", "retail,bank", *extra])


def test_synth_resume_refuses_other_settings_and_growing_n_equals_a_fresh_run(tmp_path):
    out = tmp_path / "t.jsonl"
    assert synth(out, "--n", "6").exit_code == 0
    refused = synth(out, "--n", "6", "--seed", "1")
    assert refused.exit_code == 2 and "seed: 0 then, 1 now" in refused.output and "--overwrite" in refused.output
    other = synth(out, "--n", "8", "--difficulty", "5")
    assert other.exit_code == 2 and "difficulties: [1, 2, 3, 4, 5] then, [5] now" in other.output
    shrunk = synth(out, "--n", "4")
    assert shrunk.exit_code == 2 and "n: 6 then, 4 now" in shrunk.output
    grown = synth(out, "--n", "9")
    assert grown.exit_code == 0 and "resumed" in grown.output
    fresh = tmp_path / "fresh.jsonl"
    assert synth(fresh, "--n", "9").exit_code == 0
    assert out.read_text() == fresh.read_text()
    restarted = synth(out, "--n", "3", "--seed", "1", "--overwrite")
    assert restarted.exit_code == 0 and len(read_jsonl(out, Task)) <= 3


def test_synth_resume_says_it_dropped_a_partial_line(tmp_path):
    out = tmp_path / "t.jsonl"
    assert synth(out, "--n", "4").exit_code == 0
    text = out.read_text()
    out.write_text(text + text.splitlines()[0][:40])
    again = synth(out, "--n", "4")
    assert again.exit_code == 0 and "dropped a partial last line" in again.output


def test_rollout_refuses_another_seed_and_growing_k_equals_a_fresh_run(tmp_path):
    tasks = tmp_path / "t.jsonl"
    assert synth(tasks, "--n", "4").exit_code == 0

    def roll(out, *extra):
        return runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "random", "--out", str(out), *extra])

    out = tmp_path / "runs.jsonl"
    assert roll(out, "--k", "2").exit_code == 0
    refused = roll(out, "--k", "2", "--seed", "99")
    assert refused.exit_code == 2 and "seed: 0 then, 99 now" in refused.output
    grown = roll(out, "--k", "3")
    assert grown.exit_code == 0 and "resumed: 8 episode(s)" in grown.output
    fresh = tmp_path / "fresh.jsonl"
    assert roll(fresh, "--k", "3").exit_code == 0
    key = lambda p: {t.key: t.model_dump(exclude={"meta"}) for t in read_jsonl(p, Trajectory)}  # noqa: E731
    assert key(out) == key(fresh)
    assert roll(out, "--k", "1", "--seed", "99", "--overwrite").exit_code == 0
    assert len(read_jsonl(out, Trajectory)) == 4


def test_duplicates_are_counted_once(tmp_path):
    tasks = tmp_path / "t.jsonl"
    assert synth(tasks, "--n", "3").exit_code == 0
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text(tasks.read_text() * 2)
    runs = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["rollout", "--tasks", str(doubled), "--policy", "oracle", "--out", str(runs), "--k", "2"])
    assert r.exit_code == 0 and "3 duplicate task id(s) ignored" in r.output
    assert len(read_jsonl(runs, Trajectory)) == 6
    s = runner.invoke(app, ["score", "--runs", str(runs), "--runs", str(runs), "--json"])
    summary = json.loads(s.stdout)["summary"]["oracle"]
    assert summary["n"] == 6 and "pass^4" not in summary and "pass^2" in summary
    assert "6 duplicate run(s)" in s.stderr


def test_markup_in_user_text_prints_as_itself(tmp_path):
    folder = tmp_path / "[bold]x["  # with a file name starting "]", a path holds "[/]"
    folder.mkdir()
    tasks = folder / "[bold red]t.jsonl"
    r = synth(tasks, "--n", "2")
    assert r.exit_code == 0, r.output
    assert "[bold red]t.jsonl" in r.output
    bad = runner.invoke(app, ["synth", "procedural", "--out", str(tmp_path / "u.jsonl"), "--domains", "[retail],[/]"])
    assert bad.exit_code == 2 and "'[retail]'" in bad.output
    runs = folder / "]r.jsonl"
    rolled = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "oracle", "--out", str(runs)])
    assert rolled.exit_code == 0, rolled.output
    assert "[/]r.jsonl" in str(runs)
    missing = runner.invoke(app, ["score", "--runs", str(folder / "]missing.jsonl")])
    assert missing.exit_code == 2 and "x[/]missing.jsonl" in missing.output
    unknown = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "[bold]x[/]", "--out", str(runs)])
    assert unknown.exit_code == 2 and "'[bold]x[/]'" in unknown.output
    scored = runner.invoke(app, ["score", "--runs", str(runs)])
    assert scored.exit_code == 0, scored.output
    demo = runner.invoke(app, ["demo", "--out", str(folder / "]demo"), "--per-domain", "1"])
    assert demo.exit_code == 0 and "x[/]demo" in demo.output
    schema = runner.invoke(app, ["schema", "--out", str(folder / "[bold]s")])
    assert schema.exit_code == 0 and "[bold]s" in schema.output


def test_bad_inputs_are_one_clean_error(tmp_path):
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b'{"a": 1}\n\xff\xfe\x00garbage\n')
    r = runner.invoke(app, ["rollout", "--tasks", str(binary), "--policy", "oracle", "--out", str(tmp_path / "r.jsonl")])
    assert r.exit_code == 2 and f"{binary}:2: not UTF-8 text" in r.output and "Traceback" not in r.output
    s = runner.invoke(app, ["score", "--runs", str(binary)])
    assert s.exit_code == 2 and f"{binary}:2: not UTF-8" in s.output
    tasks = tmp_path / "t.jsonl"
    assert synth(tasks, "--n", "2").exit_code == 0
    folder = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "oracle", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output
    as_folder = synth(tmp_path, "--n", "2")
    assert as_folder.exit_code == 2 and "is a folder" in as_folder.output
    empty_level = synth(tmp_path / "e.jsonl", "--difficulty", "")
    assert empty_level.exit_code == 2 and "--difficulty" in empty_level.output and not (tmp_path / "e.jsonl").exists()
    hf = runner.invoke(app, ["rollout", "--tasks", str(tasks), "--policy", "hf:/missing", "--out", str(tmp_path / "h.jsonl")])
    assert hf.exit_code == 2 and "no model folder at /missing" in hf.output and not (tmp_path / "h.jsonl").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    e = runner.invoke(app, ["rollout", "--tasks", str(empty), "--policy", "oracle", "--out", str(tmp_path / "x.jsonl")])
    assert e.exit_code == 2 and "no tasks" in e.output
    existing = tmp_path / "file"
    existing.write_text("keep me")
    sc = runner.invoke(app, ["schema", "--out", str(existing)])
    assert sc.exit_code == 2 and "is a file" in sc.output and existing.read_text() == "keep me"
