"""`synthagent train tiny` as a benchmark: held-out success before SFT, after SFT and after GRPO, and time.

Target (issue 4): held-out success ≥ 0.5 on difficulty-1 tasks within 30 minutes on 2 cores, GRPO
improving on SFT. Prints the report's figures as JSON, with wall-clock and process CPU seconds (on a
shared machine the wall clock overstates what 2 dedicated cores need). Needs the `train` extra.

Run: `python bench/train_tiny.py [--quick] [--out DIR] [--threads 2] [--set key=value ...]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import os
import warnings
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see synthagent.train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the end-to-end test's minute-scale settings")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a TinyConfig field")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import datasets

    from synthagent.train.tiny import TinyConfig, run_tiny

    datasets.disable_progress_bars()
    cfg = TinyConfig.quick() if args.quick else TinyConfig()
    types = {f.name: f.type for f in fields(TinyConfig)}
    overrides = {"threads": args.threads}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in types:
            parser.error(f"unknown field {key!r}")
        overrides[key] = json.loads(value) if value[:1] in "[{0123456789-tf" and value not in ("t", "f") else value
    cfg = replace(cfg, **overrides)
    out = args.out or Path(tempfile.mkdtemp(prefix="train-tiny-"))
    report = run_tiny(cfg, out)
    figures = {
        "held_out_success": {"before_sft": report.before_sft.get("success_rate"),
                             "after_sft": report.after_sft.get("success_rate"),
                             "after_grpo": report.after_grpo.get("success_rate")},
        "held_out_mean_reward": {"before_sft": report.before_sft.get("mean_reward"),
                                 "after_sft": report.after_sft.get("mean_reward"),
                                 "after_grpo": report.after_grpo.get("mean_reward")},
        "wall_seconds": report.seconds, "cpu_seconds": report.cpu_seconds, "threads": report.threads,
        "parameters": report.parameters, "sft_seconds": report.sft.get("seconds"),
        "grpo_seconds": report.grpo.get("seconds"), "grpo_reward_per_step": report.grpo.get("reward_per_step"),
        "tasks": report.tasks, "report": str(out / "report.json"),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
