"""The node-loss scenario of ``synth llm --backend ray``, shared by the opt-in test and ``bench/ray_node_loss.py``.

On a real cluster of separate Ray nodes on this machine (``tests/ray_cluster.py``), against the local fake
teacher (``synth_fake_teacher.py`` behind ``fakeserver.py``), both runs through the real command
(``python -m synthagent.commands.synth_llm llm --backend ray``) as a separate driver process:

1. the reference: the head node alone, one shard, uninterrupted, into ``ref/``;
2. two more nodes join; the same command with ``--shards 3`` into ``run/``; as soon as a shard running on a
   worker node has finished at least one unit (and not all of its units), that node's whole process group
   is SIGKILLed. Ray runs the lost shard again on a surviving node, the new attempt resumes from the
   shard's state files, and the command ends by itself.

Returns figures: whether ``run/tasks.jsonl`` and ``rejected.jsonl`` equal the reference byte for byte,
where every attempt at every shard ran, how far the killed shard had got, and timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402
from ray_cluster import LocalRayCluster, Node  # noqa: E402

from synthagent.synth.llm.ray_backend import read_attempts  # noqa: E402


def finished_units(shard_dir: Path) -> int:
    """Units of a shard whose state file holds an outcome (written atomically, so never torn)."""
    return sum(1 for path in (shard_dir / "state").glob("*/*.json") if b'"outcome":null' not in path.read_bytes())


def synth_command(config: Path, personas: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "synthagent.commands.synth_llm", "llm", "--config", str(config), "--personas", str(personas),
            "--out", str(out), "--concurrency", "2", "--max-turns", "10", "--backend", "ray", "--quiet", *extra]


def run_command(args: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, str, float]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout_s)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def wait_and_kill(cluster: LocalRayCluster, shards: Path, driver: subprocess.Popen[str],
                  timeout_s: float) -> dict[str, Any]:
    """Kill the first worker node seen running a shard that is part-way through; returns what was killed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if driver.poll() is not None:
            raise RuntimeError(f"the run ended (exit {driver.returncode}) before a node could be killed mid-run")
        for shard_dir in sorted(shards.glob("*")):
            attempts = read_attempts(shard_dir)
            if not attempts:
                continue
            node: Node | None = cluster.node_of(attempts[-1]["node"])
            if node is None or node.name == "head":
                continue
            finished = finished_units(shard_dir)
            if 0 < finished < attempts[-1]["units"]:
                cluster.kill(node)
                return {"node": node.name, "shard": shard_dir.name, "finished_before_kill": finished,
                        "shard_units": attempts[-1]["units"], "at_s": None}
        time.sleep(0.05)
    raise TimeoutError("no worker node was running a part-done shard in time")


def node_loss_scenario(work: Path, *, personas: int = 24, latency_s: float = 0.02,
                       timeout_s: float = 420.0) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    persona_file = work / "personas.jsonl"
    persona_file.write_text("".join(json.dumps({"persona": p}) + "\n" for p in fake.persona_mix(personas, 2)))
    figures: dict[str, Any] = {"personas": personas, "fake_latency_s": latency_s}
    started = time.perf_counter()
    with FakeOpenAIServer(fake.responder, latency_s=latency_s, keep_requests=False) as server, \
            LocalRayCluster(work / "cluster", cpus_per_node=1) as cluster:
        config = work / "llm.yaml"
        config.write_text(fake.config_yaml(server.base_url, timeout_s=10.0))
        cluster.add_node()
        figures["head_start_s"] = round(time.perf_counter() - started, 1)

        code, output, elapsed = run_command(synth_command(config, persona_file, work / "ref"), cluster.env(), timeout_s)
        if code != 0:
            raise RuntimeError(f"reference run failed ({code}):\n{output[-3000:]}")
        figures["reference_s"] = round(elapsed, 1)

        cluster.add_node()
        cluster.add_node()
        run_dir = work / "run"
        t0 = time.perf_counter()
        with open(work / "run.log", "w") as log:
            driver = subprocess.Popen(synth_command(config, persona_file, run_dir, "--shards", "3"), env=cluster.env(),
                                      stdout=log, stderr=subprocess.STDOUT, text=True)
            try:
                killed = wait_and_kill(cluster, run_dir / "shards", driver, timeout_s)
                killed["at_s"] = round(time.perf_counter() - t0, 1)
                code = driver.wait(timeout_s)
            finally:
                if driver.poll() is None:
                    driver.kill()
                    driver.wait()
        figures["killed_run_s"] = round(time.perf_counter() - t0, 1)
        figures["killed"] = killed
        figures["exit_code"] = code
        figures["run_log_tail"] = (work / "run.log").read_text()[-1500:]
        figures["attempts"] = {d.name: [(n.name if (n := cluster.node_of(a["node"])) else "?") for a in read_attempts(d)]
                               for d in sorted((run_dir / "shards").glob("*"))}
    summary = json.loads((run_dir / "summary.json").read_text())
    ref = work / "ref"
    figures.update({
        "tasks_identical": (run_dir / "tasks.jsonl").read_bytes() == (ref / "tasks.jsonl").read_bytes(),
        "rejected_identical": (run_dir / "rejected.jsonl").read_bytes() == (ref / "rejected.jsonl").read_bytes(),
        "accepted": summary["accepted"], "discarded": summary["discarded"], "complete": summary["complete"],
        "stopped": summary["stopped"], "backend": summary.get("backend"),
        # the dead attempt's calls are not in the session figures: fewer calls than the reference means the
        # new attempt resumed (finished units not redone; the cache replays what the unit in flight had asked)
        "killed_run_endpoint_calls": summary["session"]["endpoint_calls"],
        "killed_run_cache_hits": summary["session"]["cache_hits"],
        "reference_endpoint_calls": json.loads((ref / "summary.json").read_text())["session"]["endpoint_calls"],
        "tasks_bytes": (run_dir / "tasks.jsonl").stat().st_size,
        "total_s": round(time.perf_counter() - started, 1),
    })
    return figures
