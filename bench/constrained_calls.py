"""How much of a `train tiny` run's held-out failure is spelling? (issue 20, transfer)

Evaluates a run's checkpoint twice on the same held-out tasks: with free decoding (what `train tiny`
reports) and with tool calls held to the schemas shown (`rollout.schema_constraint`: a call's name is one
of the tools, its keys are that tool's, the required ones are there; values stay free). The difference,
paired task by task, is what a model loses to misspelt names and keys alone, which strict function calling
in a served model would not let it write. The rest of the failure is choosing the tool and copying the
values. Under each line, the share of episodes that reached each step of the plan (`train/funnel.py`: a
tool call, the identity check, every record read, every change made, success) and success by task kind.

The tasks are the run's own held-out splits (`train.tiny.make_splits` on its report's config): seen (the
training domains' held-out tasks) and unseen (the held-out domains'), `--tasks` of each.

Run: `python bench/constrained_calls.py RUN [RUN ...] [--tasks 100] [--checkpoint model] [--splits seen,unseen]`
Needs the `train` extra. Not a timed test: the seconds it prints are for orientation only.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see synthagent.train

from claims import fmt  # bench/, beside this script: success [95%] n=…, as claims.py prints it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="train tiny output folders")
    parser.add_argument("--tasks", type=int, default=100, help="held-out tasks of each split")
    parser.add_argument("--checkpoint", default="model", help="model (the final one) or model-sft")
    parser.add_argument("--splits", default="seen,unseen", help="comma-separated: seen, unseen")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    from synthagent.train.ablation import config_from_report
    from synthagent.train.evaluation import evaluate, paired_difference
    from synthagent.train.tiny import load_checkpoint, make_splits

    torch.set_num_threads(1)
    wanted = [s for s in args.splits.split(",") if s]
    unknown = sorted(set(wanted) - {"seen", "unseen"})
    if unknown:
        raise SystemExit(f"--splits: unknown {unknown}; use seen, unseen")
    figures: dict = {}
    print("run | split | free: success [95%] | reward | tool errors/ep | constrained: success [95%] | "
          "reward | tool errors/ep | constrained − free, paired [95%] (+won / −lost)")
    for run in args.runs:
        cfg = replace(config_from_report(run / "report.json"), eval_tasks=args.tasks, eval_unseen_tasks=args.tasks)
        splits = make_splits(cfg)
        model, tokenizer = load_checkpoint(run / args.checkpoint)
        for split in wanted:
            tasks = splits.held_seen if split == "seen" else splits.held_unseen
            if not tasks:
                print(f"{run} | {split} | 0 | (the run has no {split} split)")
                continue
            free = evaluate(model, tokenizer, tasks, cfg)
            held = evaluate(model, tokenizer, tasks, replace(cfg, eval_constrained_calls=True))
            diff = paired_difference(held["outcomes"], free["outcomes"])
            print(f"{run} | {split} | {fmt(free)} | {free['mean_reward']:.3f} | "
                  f"{free['tool_errors_per_episode']} | {fmt(held)} | {held['mean_reward']:.3f} | "
                  f"{held['tool_errors_per_episode']} | {diff['difference']:+.3f} "
                  f"[{diff['interval'][0]:+.3f}, {diff['interval'][1]:+.3f}] (+{diff['gained']} / −{diff['lost']}) | "
                  f"{free['seconds'] + held['seconds']:.0f} s", flush=True)
            for mode, figs in (("free", free), ("constrained", held)):  # how far the episodes got (train/funnel.py)
                steps = " → ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in figs["steps"].items())
                kinds = ", ".join(f"{k} {v['success_rate']:.2f} of {v['tasks']}" for k, v in figs["per_kind"].items())
                print(f"    {mode}: {steps}; success by kind: {kinds}", flush=True)
            figures.setdefault(str(run), {})[split] = {
                "free": {k: v for k, v in free.items() if k != "outcomes"},
                "constrained": {k: v for k, v in held.items() if k != "outcomes"}, "paired": diff}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
