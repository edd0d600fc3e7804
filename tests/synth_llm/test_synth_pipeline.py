"""The pipeline end to end against the local fake server: faults, per-stage discards, warm cache, budget,
endpoint outages, the CLI as the lead mounts it, and the Ray backend (on a stand-in ``ray`` module)."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer, Fault  # noqa: E402

from synthagent.llm import LLMConfig, load_config  # noqa: E402
from synthagent.spec.io import read_jsonl  # noqa: E402
from synthagent.spec.models import Task  # noqa: E402
from synthagent.commands.synth_llm import register  # noqa: E402
from synthagent.synth.llm.models import SynthRejection  # noqa: E402
from synthagent.synth.llm.personas import make_units  # noqa: E402
from synthagent.synth.llm.options import SynthOptions  # noqa: E402
from synthagent.synth.llm.pipeline import run_pipeline  # noqa: E402
from synthagent.synth.llm.state import ManifestMismatch  # noqa: E402
from synthagent.synth.llm.rubric import ANTI_FABRICATION  # noqa: E402

OPTIONS = SynthOptions(concurrency=16, max_turns=10)


def make_config(tmp: Path, server: FakeOpenAIServer, timeout_s: float = 0.5, **top: Any) -> LLMConfig:
    path = tmp / "llm.yaml"
    path.write_text(fake.config_yaml(server.base_url, timeout_s=timeout_s))
    config = load_config(path)
    return config.model_copy(update=top) if top else config


def run(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = OPTIONS, **kw: Any) -> dict:
    return asyncio.run(run_pipeline(config, personas, out, options, **kw))


def outputs(out: Path) -> tuple[list[Task], list[SynthRejection]]:
    return read_jsonl(out / "tasks.jsonl", Task), read_jsonl(out / "rejected.jsonl", SynthRejection)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """40 personas, 20% of calls faulted (429, 500, timeouts, broken JSON, truncation, missing tags)."""
    tmp = tmp_path_factory.mktemp("faulty")
    personas = fake.persona_mix(40)
    with FakeOpenAIServer(fake.responder, fault_rate=0.2, seed=3, keep_requests=False) as server:
        config = make_config(tmp, server)
        summary = run(config, personas, tmp / "out")
        cold_calls = server.request_count
        faults = dict(server.faults_injected)
        server.reset_counts()
        warm = run(config, personas, tmp / "warm", cache_path=tmp / "out" / "cache.sqlite")
        warm_calls = server.request_count
        assert not server.errors, server.errors[:3]
    return {"tmp": tmp, "personas": personas, "summary": summary, "cold_calls": cold_calls, "faults": faults,
            "warm": warm, "warm_calls": warm_calls}


def test_every_persona_is_accepted_or_discarded_with_a_reason(faulty_run: dict[str, Any]) -> None:
    summary, personas = faulty_run["summary"], faulty_run["personas"]
    assert set(faulty_run["faults"]) >= {"http_429", "http_500", "timeout", "malformed_json", "truncated",
                                        "missing_tags"}
    assert summary["complete"] and summary["stopped"] is None and summary["unit_errors"] == 0
    tasks, rejections = outputs(faulty_run["tmp"] / "out")
    ids = [t.id for t in tasks] + [r.id for r in rejections]
    assert len(ids) == len(set(ids)) == len(personas)
    assert set(ids) == {u.id for u in make_units(personas)}
    assert summary["accepted"] == len(tasks) >= 20 and summary["discarded"] == len(rejections)
    for rejection in rejections:
        assert rejection.stage in "ABCDEF" and rejection.kind and rejection.reason
    stages = {r.stage for r in rejections}
    assert stages >= {"A", "B", "C", "D", "E", "F"}, stages
    kinds = {(r.stage, r.kind) for r in rejections}
    assert ("F", "near_duplicate") in kinds and ("F", "leak") in kinds and ("E", "teacher_discard") in kinds
    assert ("D", "no_successful_run") in kinds
    parse_failures = [r for r in rejections if r.kind in ("parse", "truncated")]
    assert all(len(r.attempts) == 2 for r in parse_failures)  # the first reply and the repair, both recorded


def test_accepted_tasks_are_complete(faulty_run: dict[str, Any]) -> None:
    tasks, _ = outputs(faulty_run["tmp"] / "out")
    for task in tasks:
        assert task.instruction and task.user_background and len(task.private_info) >= 1
        assert 1 <= sum(t.distractor for t in task.tools) <= 2 and task.policy[0].startswith("Tool ")
        assert task.rubric.forbidden and task.rubric.subgoals and task.rubric.interactions
        assert task.rubric.forbidden[1].criterion.startswith(ANTI_FABRICATION)  # the policy item, every rubric
        assert all(i.interaction is not None for i in task.rubric.interactions)
        assert any(i.check is not None for _, items in task.rubric.sections() for i in items)  # compiled items
        assert task.gold[-1].kind == "answer" and any(g.kind == "call" for g in task.gold)
        assert task.source.generator == "synthagent.synth.llm" and task.source.params["prompts"]["A"] == "a_task.v1"
        usage = task.metadata["synthesis"]["usage"]
        assert set(usage) == {"A", "B", "C", "D", "E"} and usage["D"]["teacher"]["calls"] >= 3
        assert set(usage["D"]) >= {"teacher", "user", "tool"}
        assert str(task.private_info[0].value).lower() not in task.instruction.lower()
    assert any(t.metadata["synthesis"]["repairs"] for t in tasks)  # repaired replies are recorded too


def test_summary_reports_discard_rates_and_teacher_tokens_per_accepted_task(faulty_run: dict[str, Any]) -> None:
    summary = faulty_run["summary"]
    on_disk = json.loads((faulty_run["tmp"] / "out" / "summary.json").read_text())
    assert on_disk["accepted"] == summary["accepted"]
    funnel = summary["funnel"]
    assert funnel["A"]["entered"] == 40
    for this, nxt in zip("ABCDE", "BCDEF"):
        assert funnel[nxt]["entered"] == funnel[this]["entered"] - funnel[this]["discarded"]
    assert funnel["F"]["entered"] - funnel["F"]["discarded"] == summary["accepted"]
    per_task = summary["teacher_tokens_per_accepted_task"]
    assert set(per_task) == {"A.task", "B.underspecify", "C.toolcheck", "D.solve", "E.rubric", "total"}
    assert per_task["total"] == pytest.approx(sum(v for k, v in per_task.items() if k != "total"), rel=1e-3)
    assert per_task["D.solve"] > per_task["A.task"] > 0
    session = summary["session"]
    assert session["retries"] > 0 and session["usage_by_stage"]["A.task"]["calls"] >= 40
    assert set(summary["tokens_by_role"]) == {"teacher", "user", "tool"}


def test_warm_cache_rerun_makes_zero_endpoint_calls(faulty_run: dict[str, Any]) -> None:
    assert faulty_run["cold_calls"] > 1000
    assert faulty_run["warm_calls"] == 0
    warm = faulty_run["warm"]
    assert warm["session"]["endpoint_calls"] == 0 and warm["session"]["cache_hits"] > 1000
    cold_tasks = (faulty_run["tmp"] / "out" / "tasks.jsonl").read_text()
    assert (faulty_run["tmp"] / "warm" / "tasks.jsonl").read_text() == cold_tasks
    assert warm["teacher_tokens_per_accepted_task"] == faulty_run["summary"]["teacher_tokens_per_accepted_task"]


def test_rerun_of_a_finished_folder_is_a_no_op_and_other_settings_are_refused(faulty_run: dict[str, Any]) -> None:
    tmp = faulty_run["tmp"]
    config = load_config(tmp / "llm.yaml")  # the fake server is gone: any call would fail
    again = run(config, faulty_run["personas"], tmp / "out")
    assert again["complete"] and again["session"]["endpoint_calls"] == 0
    assert again["accepted"] == faulty_run["summary"]["accepted"]
    with pytest.raises(ManifestMismatch, match="runs: 3 then, 2 now"):
        run(config, faulty_run["personas"], tmp / "out", SynthOptions(concurrency=4, runs=2, max_turns=10))
    with pytest.raises(ValueError, match="other personas or seeds"):
        run(config, faulty_run["personas"][1:] + ["A persona this folder has never seen"], tmp / "out")


def test_budget_stops_cleanly_and_a_rerun_finishes_with_the_same_result(tmp_path: Path) -> None:
    personas = fake.persona_mix(12, duplicates=1)
    with FakeOpenAIServer(fake.responder) as server:
        # no faults are injected here; a roomy timeout keeps freshly spawned workers (cold imports on a busy
        # CI machine) from timing out real requests and leaving units unfinished
        config = make_config(tmp_path, server, timeout_s=10.0)
        reference = run(config, personas, tmp_path / "ref")
        stopped = run(config.model_copy(update={"token_budget": 40_000}), personas, tmp_path / "out")
        assert stopped["stopped"] == "budget" and not stopped["complete"]
        assert stopped["committed"] < 12 and stopped["discarded"] <= reference["discarded"]
        finished = run(config, personas, tmp_path / "out")
    assert finished["complete"]
    assert (tmp_path / "out" / "tasks.jsonl").read_text() == (tmp_path / "ref" / "tasks.jsonl").read_text()
    assert (tmp_path / "out" / "rejected.jsonl").read_text() == (tmp_path / "ref" / "rejected.jsonl").read_text()


def test_an_endpoint_outage_leaves_units_unfinished_instead_of_discarding_them(tmp_path: Path) -> None:
    personas = fake.persona_mix(6, duplicates=0)
    down = {"on": True}

    def responder(body: dict[str, Any]) -> Any:
        return Fault.server_error() if down["on"] else fake.responder(body)

    with FakeOpenAIServer(responder) as server:
        config = make_config(tmp_path, server, max_retries=1)
        broken = run(config, personas, tmp_path / "out", SynthOptions(concurrency=2, max_turns=10, max_unit_errors=3))
        assert broken["stopped"] == "endpoint_errors" and broken["discarded"] == 0 and broken["committed"] == 0
        assert "HTTP 500" in broken["first_errors"][0]["error"]
        down["on"] = False
        fixed = run(config, personas, tmp_path / "out", SynthOptions(concurrency=2, max_turns=10, max_unit_errors=3))
    assert fixed["complete"] and fixed["committed"] == 6


def test_cli_as_mounted_by_the_lead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = typer.Typer()
    synth_app = typer.Typer()
    app.add_typer(synth_app, name="synth")
    register(synth_app)
    personas = tmp_path / "personas.jsonl"
    personas.write_text("".join(json.dumps({"persona": p}) + "\n" for p in fake.persona_mix(5, duplicates=0)))
    runner = CliRunner()
    with FakeOpenAIServer(fake.responder) as server:
        (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url))
        args = ["synth", "llm", "--config", str(tmp_path / "llm.yaml"), "--personas", str(personas), "--n", "5",
                "--out", str(tmp_path / "out"), "--concurrency", "8", "--max-turns", "10"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "accepted" in result.output and "E rubric" in result.output and "endpoint calls" in result.output
        assert json.loads((tmp_path / "out" / "summary.json").read_text())["committed"] == 5
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"persona": "A fine persona"}\n{"text": "oops"}\n')
        result = runner.invoke(app, [*args[:4], "--personas", str(bad), "--out", str(tmp_path / "bad"), "--strict"])
        assert result.exit_code == 2 and f"{bad}:2" in result.output and "persona" in result.output
        result = runner.invoke(app, [*args[:4], "--personas", str(bad), "--out", str(tmp_path / "lenient"),
                                     "--max-turns", "10"])
        assert result.exit_code == 0, result.output  # the bad line is skipped and listed, the good one runs
        listed = json.loads((tmp_path / "lenient" / "personas.rejects.jsonl").read_text())
        assert (listed["file"], listed["record"], listed["field"]) == (str(bad), 2, "persona")
        monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were missing (real Ray: test_synth_ray.py)
        result = runner.invoke(app, [*args, "--backend", "ray"])
        assert result.exit_code == 2 and "pip install" in result.output


class _Ref:
    """A finished task's result; hashable by identity, as Ray's ObjectRefs are hashable."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _FakeRay(types.ModuleType):
    """Just enough of Ray's API to run the sharding and merge logic in-process."""

    class exceptions:  # noqa: N801 - the module attribute Ray has
        class RayError(Exception):
            pass

        class RayTaskError(RayError):
            pass

    def __init__(self) -> None:
        super().__init__("ray")
        self.calls: list[int] = []
        self._up = False

    def is_initialized(self) -> bool:
        return self._up

    def init(self, address: str | None = None, ignore_reinit_error: bool = False) -> None:
        self._up = True

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 3.0}

    def remote(self, fn: Any) -> Any:
        outer = self

        class Remote:
            def options(self, **_: Any) -> "Remote":
                return self

            def remote(self, *args: Any) -> Any:
                outer.calls.append(len(args[1]))
                return _Ref(fn(*args))

        return Remote()

    def wait(self, refs: list[Any], num_returns: int = 1) -> tuple[list[Any], list[Any]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: Any) -> Any:
        return ref.value


def test_ray_shards_and_local_workers_give_the_files_of_one_process(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from synthagent.synth.llm.processes import run_processes
    from synthagent.synth.llm.ray_backend import run_ray

    personas = fake.persona_mix(10, duplicates=2)
    fake_ray = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    with FakeOpenAIServer(fake.responder) as server:
        # no faults are injected here; a roomy timeout keeps freshly spawned workers (cold imports on a busy
        # CI machine) from timing out real requests and leaving units unfinished
        config = make_config(tmp_path, server, timeout_s=10.0)
        reference = run(config, personas, tmp_path / "ref")
        sharded = run_ray(config, personas, tmp_path / "ray", SynthOptions(concurrency=4, max_turns=10))
        local = run_processes(config, personas, tmp_path / "procs", SynthOptions(concurrency=8, max_turns=10),
                              workers=2)
    assert fake_ray.calls == [4, 3, 3] and sharded["backend"]["shards"] == 3
    assert (tmp_path / "ray" / "shards" / "0" / "state").is_dir()
    assert local["backend"] == {"name": "processes", "workers": 2} and local["session"]["endpoint_calls"] > 0
    for folder, summary in (("ray", sharded), ("procs", local)):
        why = (folder, summary.get("stopped"), summary.get("first_errors"))
        assert summary["accepted"] == reference["accepted"] and summary["complete"], why
        for name in ("tasks.jsonl", "rejected.jsonl"):
            assert (tmp_path / folder / name).read_text() == (tmp_path / "ref" / name).read_text(), (name, why)


def test_a_killed_worker_stops_the_run_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    """SIGKILL one of two workers mid-run: the parent notices, keeps what was committed, and says why it
    stopped; the same command again finishes the run with the files of an uninterrupted one."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from synthagent.synth.llm.processes import run_processes

    personas = fake.persona_mix(8)
    options = SynthOptions(concurrency=4, max_turns=10)

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [p for p in multiprocessing.active_children() if p.name == "synth-worker-1"]
            if workers:
                time.sleep(0.5)  # let it start calling the server
                os.kill(workers[0].pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    with FakeOpenAIServer(fake.responder, latency_s=0.02) as server:
        config = make_config(tmp_path, server, timeout_s=10.0)
        reference = run(config, personas, tmp_path / "ref", options)
        killer = threading.Thread(target=kill_a_worker, daemon=True)
        killer.start()
        stopped = run_processes(config, personas, tmp_path / "procs", options, workers=2)
        killer.join()
        assert stopped["stopped"] == "worker_died" and not stopped["complete"], stopped.get("first_errors")
        assert any("worker 1 exited with code -9" in str(e["error"]) for e in stopped["first_errors"])
        finished = run_processes(config, personas, tmp_path / "procs", options, workers=2)
    assert finished["complete"] and finished["accepted"] == reference["accepted"], finished.get("first_errors")
    for name in ("tasks.jsonl", "rejected.jsonl"):
        assert (tmp_path / "procs" / name).read_text() == (tmp_path / "ref" / name).read_text(), name


def test_ray_backend_without_ray_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthagent.synth.llm.ray_backend import RayUnavailable, run_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    config = LLMConfig.for_endpoint("http://127.0.0.1:9/v1", "m")
    with pytest.raises(RayUnavailable, match="pip install"):
        run_ray(config, ["a persona"], tmp_path / "out")


def test_near_duplicate_personas_share_no_request_body(tmp_path: Path) -> None:
    """The twins ``persona_mix`` adds must reach the dedup gate as near-duplicates, yet never send the same
    request: the fake server keys its transient faults on how often it has seen a body, so a shared body's
    fault would land on whichever twin the scheduler runs first, and the usage the files record would depend
    on scheduling (found while chasing the real-Ray test's CI failure of 2026-12-05, whose cause was another)."""
    original, twin = fake.persona_mix(4, duplicates=1)[0], fake.persona_mix(4, duplicates=1)[-1]
    assert fake.words_of(original) == fake.words_of(twin) and original != twin
    bodies = []
    for i, persona in enumerate((original, twin)):
        with FakeOpenAIServer(fake.responder) as server:
            run(make_config(tmp_path, server, timeout_s=30.0), [persona], tmp_path / str(i))
            bodies.append({json.dumps(body, sort_keys=True) for body in server.requests})
    assert bodies[0] and bodies[1] and not bodies[0] & bodies[1]
    both = tmp_path / "both"
    with FakeOpenAIServer(fake.responder) as server:
        run(make_config(tmp_path, server, timeout_s=30.0), [original, twin], both)
    _, rejected = outputs(both)
    assert [r.kind for r in rejected] == ["near_duplicate"]


def test_a_budget_stop_anywhere_in_stage_d_leaves_the_unit_unfinished(tmp_path: Path) -> None:
    """Wherever the budget runs out (here at every 5% of the whole run's tokens), a unit whose stage D it
    cuts is left unfinished, never discarded for a "fault" run: the runtime turns the spent budget inside
    the LLM user or tools into a fault episode, which stage D judged as a failed teacher run until
    `FailureWatch`. The resumed run then writes the reference files."""
    personas = fake.persona_mix(8, duplicates=0)
    with FakeOpenAIServer(fake.responder) as server:
        config = make_config(tmp_path, server, timeout_s=10.0)
        reference = run(config, personas, tmp_path / "ref", SynthOptions(concurrency=2, max_turns=10))
        total = reference["session"]["tokens_spent"]
        for percent in range(40, 100, 5):
            out = tmp_path / str(percent)
            stopped = run(config.model_copy(update={"token_budget": total * percent // 100}), personas, out,
                          SynthOptions(concurrency=2, max_turns=10))
            assert stopped["stopped"] == "budget", percent
            faulted = [r.reason for r in outputs(out)[1] if "fault" in r.reason]
            assert not faulted, (percent, faulted)
            assert run(config, personas, out, SynthOptions(concurrency=2, max_turns=10))["complete"]
            for name in ("tasks.jsonl", "rejected.jsonl"):
                assert (out / name).read_text() == (tmp_path / "ref" / name).read_text(), (percent, name)
