"""The issue's "done when" check for LLM synthesis, at full size, with figures.

200 personas, 20% of model calls faulted (429, 500, timeouts, broken JSON bodies, truncated replies,
missing tags), against the local fake server playing teacher, user simulator and tool simulator
(``tests/synth_llm/synth_fake_teacher.py``). Three runs of ``python -m synthagent.commands.synth_llm llm``:

1. uninterrupted, into ``ref/``;
2. SIGKILLed at a random moment five times, then resumed to the end, into ``killed/`` (own server, own
   cache: the same deterministic faults, nothing shared with run 1);
3. a rerun into a fresh folder with run 1's cache, counting the requests the server receives.

Prints the per-stage funnel, whether run 2's files equal run 1's (accepted set, rejections, bytes), duplicate
ids, the warm-cache request count and the teacher tokens per accepted task by stage, as JSON.

    python bench/synth_resume.py [--personas 200] [--fault-rate 0.2] [--kills 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "synth_llm"))

import synth_fake_teacher as fake  # noqa: E402
from fakeserver import FakeOpenAIServer  # noqa: E402
from test_synth_resume import committed_ids as ids_of  # noqa: E402  (the test's reader of committed ids)
from test_synth_resume import state_files as state_count  # noqa: E402


def command(config: Path, personas: Path, out: Path, args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "synthagent.commands.synth_llm", "llm", "--config", str(config), "--personas",
            str(personas), "--out", str(out), "--concurrency", str(args.concurrency), "--max-turns", "10", "--quiet"]


def server(args: argparse.Namespace) -> FakeOpenAIServer:
    return FakeOpenAIServer(fake.responder, fault_rate=args.fault_rate, seed=args.seed,
                            latency_s=args.latency_ms / 1000, keep_requests=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kill-seed", type=int, default=2026)
    args = parser.parse_args()

    figures: dict[str, object] = {"personas": args.personas, "fault_rate": args.fault_rate}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        persona_file = tmp / "personas.jsonl"
        personas = fake.natural_mix(args.personas, duplicates=max(1, args.personas // 20))
        persona_file.write_text("".join(json.dumps({"persona": p}) + "\n" for p in personas))

        with server(args) as srv:  # 1. uninterrupted
            (tmp / "ref.yaml").write_text(fake.config_yaml(srv.base_url, timeout_s=0.5))
            started = time.perf_counter()
            done = subprocess.run(command(tmp / "ref.yaml", persona_file, tmp / "ref", args), cwd=ROOT,
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            figures["uninterrupted"] = {"seconds": round(time.perf_counter() - started, 1),
                                        "requests": srv.request_count, "faults_injected": dict(srv.faults_injected)}

        rng = random.Random(args.kill_seed)
        kills = []
        # kill moments scale with the uninterrupted run, so that every kill lands mid-run however fast it is
        span = float(figures["uninterrupted"]["seconds"]) / args.kills  # type: ignore[index]
        with server(args) as srv:  # 2. killed and resumed
            (tmp / "killed.yaml").write_text(fake.config_yaml(srv.base_url, timeout_s=0.5))
            started = time.perf_counter()
            cmd = command(tmp / "killed.yaml", persona_file, tmp / "killed", args)
            for _ in range(args.kills):
                before = state_count(tmp / "killed")
                process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while state_count(tmp / "killed") == before and process.poll() is None:
                    time.sleep(0.01)
                delay = rng.uniform(0.1, 0.9) * span
                time.sleep(delay)
                running = process.poll() is None
                process.kill()
                process.wait()
                kills.append({"after_s": round(delay, 2), "killed_mid_run": running,
                              "committed_so_far": len(ids_of(tmp / "killed"))})
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            figures["killed_and_resumed"] = {"seconds": round(time.perf_counter() - started, 1),
                                             "requests": srv.request_count, "kills": kills}

        with server(args) as srv:  # 3. warm cache, fresh folder
            (tmp / "warm.yaml").write_text(fake.config_yaml(srv.base_url, timeout_s=0.5,
                                                            cache_path=str(tmp / "ref" / "cache.sqlite")))
            done = subprocess.run(command(tmp / "warm.yaml", persona_file, tmp / "warm", args), cwd=ROOT,
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            figures["warm_cache_rerun"] = {"endpoint_requests": srv.request_count,
                                           "same_tasks": (tmp / "warm" / "tasks.jsonl").read_bytes()
                                           == (tmp / "ref" / "tasks.jsonl").read_bytes()}

        ref_ids, killed_ids = ids_of(tmp / "ref"), ids_of(tmp / "killed")
        accepted = lambda out: {json.loads(x)["id"] for x in (out / "tasks.jsonl").read_text().splitlines()}  # noqa: E731
        figures["resume"] = {
            "same_accepted_set": accepted(tmp / "ref") == accepted(tmp / "killed"),
            "tasks_jsonl_identical": (tmp / "ref" / "tasks.jsonl").read_bytes()
            == (tmp / "killed" / "tasks.jsonl").read_bytes(),
            "rejected_jsonl_identical": (tmp / "ref" / "rejected.jsonl").read_bytes()
            == (tmp / "killed" / "rejected.jsonl").read_bytes(),
            "duplicate_ids": len(killed_ids) - len(set(killed_ids)),
            "every_persona_ended": len(set(killed_ids)) == len(set(ref_ids)) == args.personas,
        }
        summary = json.loads((tmp / "ref" / "summary.json").read_text())
        figures["accepted"], figures["discarded"] = summary["accepted"], summary["discarded"]
        figures["funnel"] = {f"{stage} {row['name']}": {k: row[k] for k in ("entered", "discarded", "discard_rate",
                                                                             "kinds", "repaired_replies")}
                             for stage, row in summary["funnel"].items()}
        figures["teacher_tokens_per_accepted_task"] = summary["teacher_tokens_per_accepted_task"]
        figures["tokens_by_role"] = summary["tokens_by_role"]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
