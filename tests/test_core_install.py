"""The core install (`make demo`: no openai, torch, TRL, FastAPI, Ray, pyarrow, τ² or reasoning-gym) runs the
offline loop. The test suite's environment has every extra, so this blocks them in a fresh interpreter, the
way a core-only machine lacks them; a module-level import of an extra anywhere on the demo's path fails here
(`make demo` on a fresh clone once broke exactly so: the runtime pulled `openai` in through `synthagent.llm`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXTRAS = ("openai", "torch", "transformers", "trl", "datasets", "fastapi", "uvicorn", "ray", "pyarrow", "tau2",
          "reasoning_gym", "verl", "bfcl_eval")

SCRIPT = """
import sys
for name in {extras!r}:
    sys.modules[name] = None  # `import name` now raises ImportError, as on a core-only install
from typer.testing import CliRunner
from synthagent.cli import app
out = sys.argv[1]
for args in (["demo", "--out", out + "/demo", "--per-domain", "1"],
             ["synth", "procedural", "--domains", "retail", "--n", "3", "--out", out + "/t.jsonl"],
             ["rollout", "--tasks", out + "/t.jsonl", "--policy", "oracle", "--out", out + "/r.jsonl"],
             ["score", "--runs", out + "/r.jsonl", "--tasks", out + "/t.jsonl"],
             ["report", "--tasks", out + "/t.jsonl", "--runs", out + "/r.jsonl", "--out", out + "/report"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output, repr(result.exception))
print("core ok")
"""


def test_the_offline_loop_runs_without_any_optional_extra(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(extras=EXTRAS), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "core ok" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]
    assert (tmp_path / "demo" / "summary.json").exists() and (tmp_path / "report" / "index.html").exists()


def test_the_verl_integration_imports_without_verl_and_only_the_agent_loop_needs_it() -> None:
    """agent_loop.py's ImportError says the rest of integrations.verl works without verl: check exactly that."""
    script = """
import sys
sys.modules["verl"] = None
from synthagent.integrations.verl.episode import run_episode_tokens
from synthagent.integrations.verl.reward import compute_score
try:
    import synthagent.integrations.verl.agent_loop
except ImportError as err:
    assert "works without it" in str(err), err
    print("only the agent loop needs verl")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "only the agent loop needs verl" in done.stdout, done.stdout + done.stderr[-3000:]
