"""`synthagent train ablation`: GRPO arms from one SFT checkpoint, to test the paper's two ablations in miniature.

- the information gap: the same GRPO tasks underspecified (the scripted user holds the details) against fully
  specified (`splits.fully_specified`: everything in the instruction, no interaction items);
- the reward: the rubric reward (the paper's formula) against outcome-only (1 if every sub-goal is met, else 0:
  the `outcome` preset, no forbidden gate).

Every arm starts from the run's `model-sft` checkpoint with the run's own configuration, plays the same number
of GRPO steps on the same training tasks (in its form), and is evaluated on the run's held-out tasks by the same
measure (the paper's success, never the arm's training reward), task by task against the SFT checkpoint's
outcomes in the run's report. The arm `under-rubric` is what `train tiny` itself runs; when it is not asked for,
the run's own GRPO phase stands in for it (labelled so), which saves one GRPO phase per seed.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ARMS: dict[str, tuple[str, str]] = {"under-rubric": ("under", "paper"), "full-rubric": ("full", "paper"),
                                    "under-outcome": ("under", "outcome"), "full-outcome": ("full", "outcome")}


@dataclass(frozen=True)
class AblationRun:
    run: Path
    out: Path
    arms: tuple[str, ...] = ("under-rubric", "full-rubric", "under-outcome")
    grpo_steps: int | None = None
    threads: int = 1
    eval_unseen: bool = False
    eval_tasks: int | None = None  # the first N held-out tasks only (paired with the same N after SFT)


def config_from_report(path: Path) -> Any:
    """The TinyConfig a run's report.json recorded (lists back to tuples); a clear error if it is not one."""
    from synthagent.train.tiny import TinyConfig

    if not path.exists():
        raise ValueError(f"{path}: no report.json (is it a `train tiny` output folder?)")
    try:
        data = json.loads(path.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ValueError(f"{path}: not a train tiny report ({err})") from err
    names = {f.name: f for f in fields(TinyConfig)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{path}: field(s) {unknown} are not TinyConfig fields")
    return TinyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def arm_summary(label: str, grpo: dict[str, Any], after: dict[str, Any], sft: dict[str, Any]) -> dict[str, Any]:
    """What the ablation table reads: zero-spread share, mean within-group reward variance, held-out gain (paired
    over the tasks the arm was evaluated on, the first len(after outcomes) of the SFT evaluation's)."""
    from synthagent.train.evaluation import paired_difference

    curves = grpo.get("curves", {})
    zero = curves.get("zero_spread_share") or grpo.get("zero_spread_share_per_step") or []
    variance = curves.get("group_variance") or []
    return {"arm": label, "steps": grpo.get("steps"), "seconds": grpo.get("seconds"),
            "zero_spread_share": round(statistics.fmean(zero), 4) if zero else None,
            "group_variance": round(statistics.fmean(variance), 5) if variance else None,
            "training_reward_first_last": _ends(curves.get("reward") or grpo.get("reward_per_step") or []),
            "success_after": after.get("success_rate"), "interval_after": after.get("interval"),
            "gain": paired_difference(after["outcomes"], sft["outcomes"][: len(after["outcomes"])])
            if after.get("outcomes") else None}


def _ends(values: list[float], k: int = 10) -> tuple[float, float] | None:
    if not values:
        return None
    return (round(statistics.fmean(values[:k]), 4), round(statistics.fmean(values[-k:]), 4))


def run_ablation(plan: AblationRun, log: Callable[[str], None] = print) -> dict[str, Any]:
    import torch

    from synthagent.train.curves import write_page
    from synthagent.train.tiny import evaluate, grpo_tasks, load_checkpoint, make_splits, run_grpo

    unknown = [a for a in plan.arms if a not in ARMS]
    if unknown:
        raise ValueError(f"--arms: unknown arm(s) {unknown}; arms are {', '.join(ARMS)}")
    report = json.loads((plan.run / "report.json").read_text()) if (plan.run / "report.json").exists() else {}
    cfg = config_from_report(plan.run / "report.json")
    cfg = replace(cfg, threads=plan.threads, **({"grpo_steps": plan.grpo_steps} if plan.grpo_steps else {}))
    torch.set_num_threads(max(1, plan.threads))
    splits = make_splits(cfg)
    plan.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    arms: dict[str, dict[str, Any]] = {}
    pages: list[tuple[str, dict[str, Any]]] = []
    held = splits.held_seen[: plan.eval_tasks] if plan.eval_tasks else splits.held_seen
    if len(report.get("after_sft", {}).get("outcomes") or []) < len(held):
        # the run's SFT evaluation is not there (yet): measure the checkpoint here, on the same tasks
        model, tokenizer = load_checkpoint(plan.run / "model-sft")
        report["after_sft"] = evaluate(model, tokenizer, held, cfg)
        log(f"[{time.perf_counter() - start:7.1f} s] the SFT checkpoint, measured here: "
            f"{report['after_sft']['success_rate']} on {len(held)} held-out tasks")
    if plan.eval_unseen and splits.held_unseen and not report.get("unseen_after_sft", {}).get("outcomes"):
        model, tokenizer = load_checkpoint(plan.run / "model-sft")
        report["unseen_after_sft"] = evaluate(model, tokenizer, splits.held_unseen, cfg)
    if "under-rubric" not in plan.arms and (report.get("after_grpo") or {}).get("outcomes") \
            and report["config"].get("grpo_spec", "under") == "under" and not report["config"].get("grpo_reward") \
            and (report.get("grpo") or {}).get("steps") == cfg.grpo_steps and not plan.eval_tasks:
        label = "under-rubric (the run's own GRPO)"
        arms["under-rubric"] = arm_summary(label, report["grpo"], report["after_grpo"], report["after_sft"])
        pages.append((label, report))
    for name in plan.arms:
        spec, reward = ARMS[name]
        arm_cfg = replace(cfg, grpo_spec=spec, grpo_reward=reward)
        model, tokenizer = load_checkpoint(plan.run / "model-sft")
        log(f"[{time.perf_counter() - start:7.1f} s] arm {name}: GRPO on {spec}specified tasks, {reward} reward")
        grpo = run_grpo(model, tokenizer, grpo_tasks(arm_cfg, splits.train), arm_cfg, plan.out / name)
        after = evaluate(model, tokenizer, held, arm_cfg)
        result: dict[str, Any] = {"config": {**report["config"], "grpo_spec": spec, "grpo_reward": reward},
                                  "grpo": grpo, "after_sft": report["after_sft"], "after_grpo": after}
        if plan.eval_unseen and splits.held_unseen:
            result["unseen_after_sft"] = report.get("unseen_after_sft", {})
            result["unseen_after_grpo"] = evaluate(model, tokenizer, splits.held_unseen, arm_cfg)
        arms[name] = arm_summary(name, grpo, after, report["after_sft"])
        log(f"[{time.perf_counter() - start:7.1f} s] arm {name}: {arms[name]}")
        pages.append((name, result))
        (plan.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    summary = {"run": str(plan.run), "seed": cfg.seed, "arms": arms,
               "sft": {k: v for k, v in report["after_sft"].items() if k != "outcomes"},
               "seconds": round(time.perf_counter() - start, 1),
               "sft_success": report["after_sft"].get("success_rate"), "eval_tasks": len(held),
               "grpo_steps": cfg.grpo_steps}
    (plan.out / "ablation.json").write_text(json.dumps(summary, indent=2))
    write_page(plan.out / "ablation.html", f"GRPO ablation from one SFT checkpoint (seed {cfg.seed})", pages)
    return summary
