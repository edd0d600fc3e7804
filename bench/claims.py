"""The paper's three claims in miniature (issue 20): transfer to unseen domains, GRPO over SFT, and the ablation.

Prints, per seed, held-out success on the unseen domains and on the training domains (Wilson 95% intervals),
GRPO − SFT task by task (paired 95% interval), the mean over seeds, and the ablation table (share of
zero-spread groups, mean within-group reward variance, held-out gain per arm). Reads the folders that
`synthagent train tiny --recipe transfer` and `synthagent train ablation` wrote, or runs them first with
`--train SEEDS` (one after another, `--threads` each). Needs the `train` extra. Not a timed test.

Run: `python bench/claims.py --runs out/seed0 out/seed1 --ablations out/abl0 out/abl1`
 or: `python bench/claims.py --train 0,1,2 --root out [--quick]`
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see synthagent.train


def fmt(result: dict) -> str:
    if not result:
        return "not run"
    low, high = result.get("interval") or (None, None)
    return f"{result['success_rate']:.3f} [{low:.3f}, {high:.3f}] n={result['tasks']}"


def train(seeds: list[int], root: Path, quick: bool, threads: int) -> tuple[list[Path], list[Path]]:
    import datasets

    from synthagent.train.ablation import AblationRun, run_ablation
    from synthagent.train.tiny import TinyConfig, run_tiny
    from dataclasses import replace

    datasets.disable_progress_bars()
    runs, ablations = [], []
    for seed in seeds:
        base = TinyConfig.quick_transfer() if quick else TinyConfig.transfer()
        run = root / f"seed{seed}"
        run_tiny(replace(base, seed=seed, threads=threads), run)
        run_ablation(AblationRun(run=run, out=root / f"ablation{seed}", arms=("full-rubric", "under-outcome"),
                                 threads=threads))
        runs.append(run)
        ablations.append(root / f"ablation{seed}")
    return runs, ablations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="train tiny output folders")
    parser.add_argument("--ablations", type=Path, nargs="*", default=[], help="train ablation output folders")
    parser.add_argument("--train", default="", help="comma-separated seeds to run first (recipe + ablation)")
    parser.add_argument("--root", type=Path, default=Path("claims-out"))
    parser.add_argument("--quick", action="store_true", help="the quick transfer config (seconds-scale, meaningless numbers)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--probe-domains", default="",
                        help="comma-separated domains neither trained nor held out by the recipe (e.g. hotel): each run's "
                             "SFT and final models are evaluated on --probe-tasks of their tasks (a far-transfer probe)")
    parser.add_argument("--probe-tasks", type=int, default=100)
    parser.add_argument("--plots", type=Path, default=None,
                        help="write the GRPO curves as SVG files here: one line per seed, and per arm for the ablation")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from synthagent.train.evaluation import mean_interval, paired_difference

    runs, ablations = list(args.runs), list(args.ablations)
    if args.train:
        new_runs, new_ablations = train([int(s) for s in args.train.split(",")], args.root, args.quick, args.threads)
        runs += new_runs
        ablations += new_ablations
    figures: dict = {"seeds": [], "ablation": {}}
    print("seed | unseen domains after SFT | after GRPO | seen domains after SFT | after GRPO | GRPO − SFT (seen) | "
          "GRPO − SFT (unseen) | wall")
    gains, unseen_gains, unseen_rates, seen_rates = [], [], [], []
    for run in runs:
        report = json.loads((run / "report.json").read_text())
        seed = report["config"]["seed"]
        row = {"seed": seed, "run": str(run)}
        for key in ("after_sft", "after_grpo", "unseen_after_sft", "unseen_after_grpo"):
            row[key] = {k: v for k, v in report.get(key, {}).items() if k != "outcomes"}
        for key, before, after, sink in (("gain_seen", "after_sft", "after_grpo", gains),
                                         ("gain_unseen", "unseen_after_sft", "unseen_after_grpo", unseen_gains)):
            if report.get(after, {}).get("outcomes") and report.get(before, {}).get("outcomes"):
                row[key] = paired_difference(report[after]["outcomes"], report[before]["outcomes"])
                sink.append(row[key]["difference"])
        final_unseen = report.get("unseen_after_grpo") or report.get("unseen_after_sft") or {}
        final_seen = report.get("after_grpo") or report.get("after_sft") or {}
        if final_unseen:
            unseen_rates.append(final_unseen["success_rate"])
        if final_seen:
            seen_rates.append(final_seen["success_rate"])

        def gain(key: str) -> str:
            g = row.get(key)
            if not g:
                return "—"
            low, high = g["interval"]
            return f"{g['difference']:+.3f} [{low:+.3f}, {high:+.3f}] (+{g['gained']}/−{g['lost']})"

        print(f"{seed} | {fmt(report.get('unseen_after_sft', {}))} | {fmt(report.get('unseen_after_grpo', {}))} | "
              f"{fmt(report.get('after_sft', {}))} | {fmt(report.get('after_grpo', {}))} | {gain('gain_seen')} | "
              f"{gain('gain_unseen')} | {report.get('seconds', 0) / 60:.1f} min")
        figures["seeds"].append(row)
    for label, values in (("unseen-domain success (final)", unseen_rates), ("seen-domain success (final)", seen_rates),
                          ("GRPO − SFT, seen domains", gains), ("GRPO − SFT, unseen domains", unseen_gains)):
        m = mean_interval(values)
        interval = f"[{m['interval'][0]:+.3f}, {m['interval'][1]:+.3f}]" if m["interval"] else "(one seed: no interval)"
        print(f"mean over {m['n']} seed(s), {label}: {m['mean']} {interval}" if m["n"] else f"{label}: no seeds")
        figures[label] = m
    if ablations:
        print("\nablation | seed | zero-spread share | within-group reward variance | training reward first→last 10 "
              "| held-out success after | gain over SFT (paired)")
        per_arm: dict[str, list[float]] = {}
        counted: set[tuple[str, str]] = set()  # arms of one run split over folders each carry its own GRPO
        for folder in ablations:
            summary = json.loads((folder / "ablation.json").read_text())
            for name, arm in summary["arms"].items():
                if (summary["run"], name) in counted:
                    continue
                counted.add((summary["run"], name))
                g = arm.get("gain") or {}
                ends = arm.get("training_reward_first_last") or ("—", "—")
                print(f"{arm['arm']} | {summary['seed']} | {arm['zero_spread_share']} | {arm['group_variance']} | "
                      f"{ends[0]}→{ends[1]} | {arm['success_after']} | "
                      f"{g.get('difference', 0):+.3f} [{g['interval'][0]:+.3f}, {g['interval'][1]:+.3f}]" if g else "—")
                figures["ablation"].setdefault(name, []).append(arm)
                if g:
                    per_arm.setdefault(name, {}).setdefault("gain", []).append(g["difference"])
                for key in ("zero_spread_share", "group_variance"):
                    if isinstance(arm.get(key), (int, float)):
                        per_arm.setdefault(name, {}).setdefault(key, []).append(arm[key])
        print("\nablation, mean over seeds [95% interval] | zero-spread share | within-group reward variance | gain over SFT")

        def cell(values: list[float]) -> str:
            m = mean_interval(values)
            if not m["n"]:
                return "—"
            interval = f" [{m['interval'][0]:+.4f}, {m['interval'][1]:+.4f}]" if m["interval"] else ""
            return f"{m['mean']:.4f}{interval} (n={m['n']})"

        for name, metrics in per_arm.items():
            print(f"{name} | {cell(metrics.get('zero_spread_share', []))} | {cell(metrics.get('group_variance', []))} | "
                  f"{cell(metrics.get('gain', []))}")
            figures.setdefault("ablation_means", {})[name] = {k: mean_interval(v) for k, v in metrics.items()}
    if args.probe_domains:
        figures["probe"] = probe(runs, tuple(d for d in args.probe_domains.split(",") if d), args.probe_tasks)
    if args.plots:
        write_plots(args.plots, runs, ablations)
    if args.json:
        print(json.dumps(figures, indent=2))


def probe(runs: list[Path], domains: tuple[str, ...], n: int) -> dict:
    """Success of each run's SFT checkpoint and final model on tasks of domains the run never saw (seeded like
    the run's unseen split, so every run meets the same tasks for its seed)."""
    import torch

    from synthagent.train.ablation import config_from_report
    from synthagent.train.evaluation import evaluate
    from synthagent.train.splits import procedural_tasks
    from synthagent.train.tiny import load_checkpoint

    torch.set_num_threads(1)
    out: dict = {}
    print(f"\nprobe on {', '.join(domains)} | seed | SFT checkpoint | final model")
    for run in runs:
        cfg = config_from_report(run / "report.json")
        if set(domains) & (set(cfg.domains) | set(cfg.heldout_domains)):
            raise SystemExit(f"--probe-domains: {run} trained or held out one of {domains}")
        tasks = procedural_tasks(domains, cfg.levels(), n, cfg.seed * 2 + 3)
        row = {}
        for name in ("model-sft", "model"):
            model, tokenizer = load_checkpoint(run / name)
            result = evaluate(model, tokenizer, tasks, cfg)
            row[name] = {k: v for k, v in result.items() if k != "outcomes"}
        print(f"{', '.join(domains)} | {cfg.seed} | {fmt(row['model-sft'])} | {fmt(row['model'])} | "
              f"tool calls/episode {row['model-sft']['tool_calls_per_episode']} → {row['model']['tool_calls_per_episode']}")
        out[str(run)] = row
    return out


def write_plots(folder: Path, runs: list[Path], ablations: list[Path]) -> None:
    """SVG line charts (train/curves.py) of each GRPO curve: `recipe-KEY.svg` with one line per seed, and
    `ablation-KEY.svg` with one line per (arm, seed), the run's own GRPO standing for under-rubric when the
    ablation did not run that arm itself."""
    from synthagent.train.curves import CURVES, line_chart

    folder.mkdir(parents=True, exist_ok=True)
    reports = {run: json.loads((run / "report.json").read_text()) for run in runs}
    arms: list[tuple[str, dict]] = []
    plotted_own: set[Path] = set()
    for ablation in ablations:
        summary = json.loads((ablation / "ablation.json").read_text())
        run = Path(summary["run"])
        own = reports.get(run) or (json.loads((run / "report.json").read_text()) if (run / "report.json").exists() else {})
        if own.get("grpo") and not (ablation / "under-rubric.json").exists() and run not in plotted_own:
            plotted_own.add(run)  # arms of one run split over folders each carry its own GRPO
            arms.append((f"under-rubric (the run's own GRPO), seed {summary['seed']}", own["grpo"]))
        for name in summary["arms"]:
            if (ablation / f"{name}.json").exists():
                arms.append((f"{name}, seed {summary['seed']}", json.loads((ablation / f"{name}.json").read_text())["grpo"]))
    for key, title in CURVES:
        seeds = [(f"seed {r['config']['seed']}", (r.get("grpo") or {}).get("curves", {}).get(key, [])) for r in reports.values()]
        if any(v for _, v in seeds):
            (folder / f"recipe-{key}.svg").write_text(line_chart(seeds, title, width=520, height=200, legend=True))
        series = [(label, grpo.get("curves", {}).get(key, [])) for label, grpo in arms]
        if any(v for _, v in series):
            chart = line_chart(series, title + " (ablation arms)", width=520, height=200, legend=True)
            (folder / f"ablation-{key}.svg").write_text(chart)
    print(f"plots: {folder}")


if __name__ == "__main__":
    main()
