"""Kill-and-resume: the pipeline in a subprocess, SIGKILLed at random moments five times, then resumed,
ends with exactly the files of an uninterrupted run (the same accepted set, the same rejections, no
duplicate ids), with 20% of model calls faulted throughout; in one process and with two worker processes
(whose workers must die with their parent)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402

from synthagent.llm import load_config  # noqa: E402
from synthagent.synth.llm.options import SynthOptions  # noqa: E402
from synthagent.synth.llm.pipeline import run_pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PERSONAS = 40
CONCURRENCY = 8
MAX_TURNS = 10


def committed_ids(out: Path) -> list[str]:
    ids: list[str] = []
    for name in ("tasks.jsonl", "rejected.jsonl"):
        path = out / name
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    ids.append(json.loads(line)["id"])
                except ValueError:
                    pass  # a line torn by the kill; the next session cuts it
    return ids


def state_files(out: Path) -> int:
    return sum(1 for _ in (out / "state").rglob("*.json")) if (out / "state").exists() else 0


@pytest.mark.parametrize("workers, count, kill_count", [(1, PERSONAS, 5), (2, 24, 3)])
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path: Path, workers: int, count: int,
                                                                   kill_count: int) -> None:
    personas = fake.persona_mix(count)
    persona_file = tmp_path / "personas.jsonl"
    persona_file.write_text("".join(json.dumps({"persona": p}) + "\n" for p in personas))

    with FakeOpenAIServer(fake.responder, fault_rate=0.2, seed=11, keep_requests=False) as server:
        (tmp_path / "ref.yaml").write_text(fake.config_yaml(server.base_url, timeout_s=0.5))
        config = load_config(tmp_path / "ref.yaml")
        reference = asyncio.run(run_pipeline(config, personas, tmp_path / "ref",
                                             SynthOptions(concurrency=CONCURRENCY, max_turns=MAX_TURNS)))
    assert reference["complete"]

    out = tmp_path / "killed"
    rng = random.Random(20260125 + workers)
    kills: list[tuple[float, int]] = []
    with FakeOpenAIServer(fake.responder, fault_rate=0.2, seed=11, latency_s=0.005, keep_requests=False) as server:
        (tmp_path / "llm.yaml").write_text(fake.config_yaml(server.base_url, timeout_s=0.5))
        command = [sys.executable, "-m", "synthagent.commands.synth_llm", "llm", "--config", str(tmp_path / "llm.yaml"),
                   "--personas", str(persona_file), "--out", str(out), "--concurrency", str(CONCURRENCY),
                   "--max-turns", str(MAX_TURNS), "--workers", str(workers), "--quiet"]
        for _ in range(kill_count):
            before = state_files(out)
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 30
            while state_files(out) == before and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)  # wait until this session is doing work, then kill it at a random moment
            delay = rng.uniform(0.05, 0.5 if workers == 1 else 0.3)
            time.sleep(delay)
            still_running = process.poll() is None
            process.kill()
            process.wait(10)
            assert still_running, f"the run finished before kill {len(kills) + 1}: {process.stderr.read()[-2000:]!r}"
            ids = committed_ids(out)
            assert len(ids) == len(set(ids))
            kills.append((delay, len(ids)))
        final = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr[-3000:]

    assert len(kills) == kill_count and kills[-1][1] < count
    for name in ("tasks.jsonl", "rejected.jsonl"):
        assert (out / name).read_text() == (tmp_path / "ref" / name).read_text(), name
    ids = committed_ids(out)
    assert len(ids) == len(set(ids)) == count
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["accepted"] == reference["accepted"]
    assert summary["teacher_tokens_per_accepted_task"] == reference["teacher_tokens_per_accepted_task"]
