"""Commands `synthagent export` and `synthagent train …`; the main CLI mounts them with `register(app)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from synthagent.command_errors import console, fail, note
from synthagent.command_inputs import load_tasks

out_console = Console(emoji=False)  # user text like "openai:x:" must not become an emoji
train_app = typer.Typer(no_args_is_help=True, help="Train small agents on the worlds (needs the `train` extra).")

FORMATS = ("sft", "trl", "verl", "hf")


def export(
    format: str = typer.Option(..., "--format", help="sft (OpenAI messages + tools JSONL) | trl (GRPO task set "
                               "JSONL) | verl (RL parquet) | hf (a datasets folder with a card)"),
    tasks: Path = typer.Option(..., help="Tasks JSONL."),
    out: Path = typer.Option(..., help="Output file (hf: output folder)."),
    runs: Optional[Path] = typer.Option(None, help="sft: teacher trajectories (runs JSONL) instead of gold ones."),
    protocol: str = typer.Option("chat", help="sft: chat (plain-text user turns) | ask_user (TRL's tool protocol)."),
    min_reward: float = typer.Option(1.0, help="sft: keep runs whose reward reaches this."),
    split: str = typer.Option("train", help="verl: the split name written into extra_info."),
    layout: str = typer.Option("ours", help="verl: ours (Task embedded, for synthagent's agent loop) | authors "
                               "(the rows the SynthAgent authors' verl fork reads)."),
    mock_store: str = typer.Option("synthagent-mock-tools", help="verl --layout authors: the tool-call history "
                                   "folder written into tools_kwargs (their M)."),
) -> None:
    """Export tasks for training: SFT conversations, a TRL GRPO task set, or verl parquet."""
    if format not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if format != "hf" and out.is_dir():
        example = out / ("tasks.parquet" if format == "verl" else "data.jsonl")
        fail(f"--out {out}: is a folder; {format} writes one file, e.g. {example}")
    task_list = load_tasks(tasks)
    try:
        if format == "sft":
            if protocol not in ("chat", "ask_user"):
                fail(f"--protocol: expected chat or ask_user, got {protocol!r}")
            n = _export_sft(task_list, tasks, out, runs, protocol, min_reward)
        elif format == "trl":
            from synthagent.exports.trl import write_trl

            n = write_trl(task_list, out)
        elif format == "hf":
            from synthagent.exports.hf import write_hf

            n = write_hf(task_list, out)
        else:
            from synthagent.exports.verl import write_verl

            if layout not in ("ours", "authors"):
                fail(f"--layout: expected ours or authors, got {layout!r}")
            n = write_verl(task_list, out, split=split, layout=layout, mock_store=mock_store)  # type: ignore[arg-type]
    except ImportError as err:
        fail(str(err))
        raise
    except ValueError as err:
        fail(str(err))
        raise
    console.print(f"{n} rows written to {out}", markup=False, highlight=False)


def _export_sft(task_list: list, tasks: Path, out: Path, runs: Optional[Path], protocol: str, min_reward: float) -> int:
    """SFT rows from gold or teacher runs; no rows is an error that says why (nothing is written)."""
    from synthagent.command_inputs import load_runs
    from synthagent.exports.sft import sft_records, write_jsonl_rows
    from synthagent.sim.kinds import world_kind

    run_list = None
    if runs is not None:
        run_list = load_runs([runs])
        faulted = [r for r in run_list if r.unscored]
        if faulted:
            note(f"{runs}: {len(faulted)} unscored run(s) (a fault ended them) left out: they show no agent behaviour")
            run_list = [r for r in run_list if not r.unscored]
    rows = sft_records(task_list, run_list, protocol=protocol, min_reward=min_reward)  # type: ignore[arg-type]
    if not rows:
        if run_list is None:
            kinds = sorted({world_kind(t).name for t in task_list})
            fail(f"{tasks}: 0 SFT rows: none of the {len(task_list)} task(s) has a gold plan that replays without a "
                 f"model (world kinds: {', '.join(kinds)}); give --runs with scored teacher runs (synthagent rollout)")
        rewards = [r.result.reward for r in run_list if r.result is not None]
        best = f"; the best scored reward is {max(rewards):.3f}" if rewards else ""
        fail(f"{runs}: 0 SFT rows: none of the {len(run_list)} usable run(s) reaches --min-reward {min_reward:g}{best}")
    return write_jsonl_rows(rows, out)


@train_app.command("tiny")
def train_tiny(
    out: Path = typer.Option(Path("tiny-out"), help="Folder for the model, tokenizer, report.json and report.html."),
    recipe: str = typer.Option("retail", help="retail (one domain, difficulty 1) | transfer (retail with "
                               "food_delivery held out, noisy demonstrations, GRPO rounds; docs/training.md)."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated training domains (recipe's if unset)."),
    heldout_domains: Optional[str] = typer.Option(None, help="Comma-separated domains never seen in training."),
    difficulties: Optional[str] = typer.Option(None, help="Comma-separated difficulty levels, e.g. 1,2."),
    sft_unconfirmed: float | None = typer.Option(None, min=0.0, max=1.0, help="Probability that a gold change "
                                                 "skips the user's confirmation (noisy demonstrations)."),
    sft_rename: float | None = typer.Option(None, min=0.0, max=1.0, help="Probability that a gold episode's tool "
                                            "names and argument keys get made-up domain words (train/renames.py)."),
    sft_rename_scope: str | None = typer.Option(None, help="What a rename changes: names (tool names and keys with "
                                                "an underscore) | all (also single-word keys and ID prefixes) | each (what all "
                                                "renames, each word on its own with probability 0.5) | swap (each, with other "
                                                "training words in place of made-up ones)."),
    sft_foreign_tools: int | None = typer.Option(None, min=0, help="Tools of other training domains added to each "
                                                 "gold episode's tool list, shuffled (train/renames.py)."),
    sft_drop_descriptions: float | None = typer.Option(None, min=0.0, max=1.0, help="Probability that a tool of a "
                                                       "gold episode loses its descriptions (train/renames.py)."),
    sft_call_slips: float | None = typer.Option(None, min=0.0, max=1.0, help="Probability that a gold episode's "
                                                "first tool call first fails with another training tool's key or "
                                                "ID prefix, and the tool's error comes back (train/slips.py)."),
    sft_made_up_prefixes: float | None = typer.Option(None, min=0.0, max=1.0, help="Share of the ID prefixes "
                                                      "scope swap renames that get made-up capitals instead of "
                                                      "another training domain's prefix."),
    grpo_rounds: int | None = typer.Option(None, min=1, help="GRPO rounds; after each, zero-spread tasks leave."),
    train_tasks: int | None = typer.Option(None, min=1, help="Training tasks (difficulty 1) (recipe: 16,000)."),
    eval_tasks: int | None = typer.Option(None, min=1, help="Held-out tasks (recipe: 300)."),
    grpo_steps: int | None = typer.Option(None, min=0, help="GRPO steps, 0: SFT only (recipe: 80)."),
    sft_epochs: float | None = typer.Option(None, help="SFT epochs over the gold trajectories (recipe: 1)."),
    sft_recovery: float | None = typer.Option(None, min=0.0, max=1.0, help="Probability that a gold episode shows a "
                                              "slip the user corrects (recovery demonstrations) (recipe: 0.2)."),
    vocab_size: int | None = typer.Option(None, min=600, help="Tokenizer vocabulary (recipe: 2,048; more "
                                          "domains need more to keep episodes short)."),
    tokenizer_max_token_length: int | None = typer.Option(None, min=1, help="Characters a merged token may have "
                                                          "(unset: no cap; docs/training.md, \"Why nothing transferred\")."),
    tokenizer_spell_prefixes: bool = typer.Option(False, "--tokenizer-spell-prefixes", help="ID prefixes letter by "
                                                  "letter, so an unseen domain's prefix is tokenized like a seen one."),
    eval_constrained_calls: bool = typer.Option(False, "--eval-constrained-calls", help="Hold evaluation's tool "
                                                "calls to the tools shown: names, argument keys and required keys "
                                                "(what strict function calling gives a served model); off: free text."),
    sft_lr: float | None = typer.Option(None, min=0.0, help="SFT learning rate (recipe: 3e-3)."),
    eval_unseen_tasks: int | None = typer.Option(None, min=1, help="Held-out tasks of the unseen domains (recipe: 300)."),
    init_from: Optional[Path] = typer.Option(None, help="Continue from a checkpoint (an earlier run's model-sft or "
                                             "model folder): its tokenizer and weights, no copy warm-up. Give the "
                                             "earlier run's domains and seed to continue on the same split."),
    seed: int = typer.Option(0),
    reward_preset: str = typer.Option("paper", "--reward-preset", help="paper | authors: the reward GRPO trains on "
                                      "and held-out episodes are scored with."),
    threads: int = typer.Option(0, help="torch threads (0: torch's default)."),
    quick: bool = typer.Option(False, help="Minute-scale settings (the end-to-end test's)."),
) -> None:
    """Train a tiny Qwen3-architecture agent from scratch on CPU: SFT on gold trajectories, then GRPO with
    rubric rewards; report held-out success before SFT, after SFT and after GRPO."""
    try:
        from synthagent.train.tiny import TinyConfig, run_tiny
        import datasets

        datasets.disable_progress_bars()
    except ImportError as err:
        fail(f"{err}; install the train extra: pip install torch==2.13.0 && pip install 'synthagent[train]'")
        raise
    from dataclasses import replace

    from synthagent.train.renames import SCOPES

    if sft_rename_scope is not None and sft_rename_scope not in SCOPES:
        fail(f"--sft-rename-scope: expected one of {', '.join(SCOPES)}, got {sft_rename_scope!r}")
    if recipe not in ("retail", "transfer"):
        fail(f"--recipe: expected retail or transfer, got {recipe!r}")
    if recipe == "transfer":
        base = TinyConfig.quick_transfer() if quick else TinyConfig.transfer()
    else:
        base = TinyConfig.quick() if quick else TinyConfig()
    from synthagent.reward.scorer import reward_config

    try:
        reward_config(reward_preset)
    except ValueError as err:
        fail(str(err))
    def names(text: str) -> tuple[str, ...]:
        return tuple(d.strip() for d in text.split(",") if d.strip())

    from synthagent.worlds.generated import expand_names

    overrides: dict = {"seed": seed, "threads": threads, "reward": reward_preset}
    try:
        if domains is not None:
            overrides["domains"] = expand_names(names(domains))
        if heldout_domains is not None:
            overrides["heldout_domains"] = expand_names(names(heldout_domains))
    except ValueError as err:
        fail(f"--domains: {err}")
    if difficulties is not None:
        try:
            overrides["difficulties"] = tuple(int(d) for d in names(difficulties))
        except ValueError:
            fail(f"--difficulties: expected comma-separated integers 1..5, got {difficulties!r}")
    from synthagent.worlds import domain_names
    from synthagent.worlds.registry import is_known
    # unset options keep the recipe's values (TinyConfig), the ones docs/training.md measured
    given = {"train_tasks": train_tasks, "eval_tasks": eval_tasks, "grpo_steps": grpo_steps, "sft_epochs": sft_epochs,
             "sft_recovery": sft_recovery, "sft_unconfirmed": sft_unconfirmed, "sft_rename": sft_rename,
             "sft_rename_scope": sft_rename_scope, "sft_foreign_tools": sft_foreign_tools,
             "sft_drop_descriptions": sft_drop_descriptions, "sft_call_slips": sft_call_slips,
             "sft_made_up_prefixes": sft_made_up_prefixes,
             "grpo_rounds": grpo_rounds, "vocab_size": vocab_size, "tokenizer_max_token_length": tokenizer_max_token_length,
             "tokenizer_spell_prefixes": tokenizer_spell_prefixes or None,
             "eval_constrained_calls": eval_constrained_calls or None,
             "sft_lr": sft_lr, "eval_unseen_tasks": eval_unseen_tasks}
    if init_from is not None:
        if not (init_from / "config.json").is_file():
            fail(f"--init-from: {init_from} holds no saved model (config.json missing)")
        overrides["init_from"] = str(init_from)
    overrides |= {key: value for key, value in given.items() if value is not None}
    cfg = replace(base, **overrides)
    for label, listed in (("--domains", cfg.domains), ("--heldout-domains", cfg.heldout_domains)):
        unknown = sorted(d for d in set(listed) if not is_known(d))
        if unknown:
            fail(f"{label}: unknown domain(s) {unknown}; known: {', '.join(domain_names())}, or A+B (a chimera "
                 "of two: A's customer and identity check, B's records and tools), or A~FIELD (A verified by "
                 "another field of its customer's record), or gen-N / gen-A..B (generated domains)")
    overlap = sorted(set(cfg.domains) & set(cfg.heldout_domains))
    if overlap:
        fail(f"--heldout-domains: {overlap} are also training domains; a held-out domain must be unseen")
    bad_levels = [level for level in cfg.levels() if not 1 <= level <= 5]
    if bad_levels:
        fail(f"--difficulties: levels are 1..5, got {bad_levels}")
    report = run_tiny(cfg, out, log=lambda line: console.print(line))
    summary = {"held_out_success": {"before_sft": report.before_sft.get("success_rate"),
                                    "after_sft": report.after_sft.get("success_rate"),
                                    "after_grpo": report.after_grpo.get("success_rate")},
               "held_out_reward": {"before_sft": report.before_sft.get("mean_reward"),
                                   "after_sft": report.after_sft.get("mean_reward"),
                                   "after_grpo": report.after_grpo.get("mean_reward")},
               "unseen_domain_success": {"after_sft": report.unseen_after_sft.get("success_rate"),
                                         "after_grpo": report.unseen_after_grpo.get("success_rate")},
               "seconds": report.seconds, "report": str(out / "report.json"), "page": str(out / "report.html")}
    out_console.print_json(json.dumps(summary))

@train_app.command("ablation")
def train_ablation(
    run: Path = typer.Option(..., help="A `train tiny` output folder (its report.json and model-sft/)."),
    out: Path = typer.Option(Path("ablation-out"), help="Folder for ablation.json, ablation.html and each arm's JSON."),
    arms: str = typer.Option("under-rubric,full-rubric,under-outcome", help="Comma-separated arms: "
                             "under-rubric | full-rubric | under-outcome | full-outcome. Without under-rubric, the "
                             "run's own GRPO phase stands in for it."),
    grpo_steps: int | None = typer.Option(None, min=1, help="GRPO steps per arm (the run's if unset)."),
    eval_unseen: bool = typer.Option(False, help="Also evaluate each arm on the unseen domains' held-out tasks."),
    eval_tasks: int | None = typer.Option(None, min=1, help="Evaluate each arm on the first N held-out tasks only."),
    threads: int = typer.Option(1, min=1, help="torch threads."),
) -> None:
    """GRPO from the same SFT checkpoint, underspecified vs fully specified tasks and rubric vs outcome-only
    reward; held-out success of each arm against the checkpoint, task by task (docs/training.md)."""
    try:
        from synthagent.train.ablation import AblationRun, run_ablation
        import datasets

        datasets.disable_progress_bars()
    except ImportError as err:
        fail(f"{err}; install the train extra: pip install torch==2.13.0 && pip install 'synthagent[train]'")
        raise
    plan = AblationRun(run=run, out=out, arms=tuple(a.strip() for a in arms.split(",") if a.strip()),
                       grpo_steps=grpo_steps, threads=threads, eval_unseen=eval_unseen,
                       eval_tasks=eval_tasks)
    try:
        summary = run_ablation(plan, log=lambda line: console.print(line))
    except ValueError as err:
        fail(str(err))
        raise
    out_console.print_json(json.dumps(summary))


@train_app.command("grpo")
def train_grpo(
    tasks: Path = typer.Option(..., help="Tasks JSONL, any world kind (synth llm, imported, tau2, procedural)."),
    model: Path = typer.Option(..., help="A local transformers model folder to train (its tokenizer beside it)."),
    config: Path = typer.Option(..., help="LLM config YAML: the user, tool and judge roles."),
    out: Path = typer.Option(Path("grpo-out"), help="Folder for the trained model (out/model), M and report.json."),
    reasoning_mix: Optional[str] = typer.Option(None, help="Add reasoning-gym problems: NAME[,NAME…]:N."),
    steps: int = typer.Option(10, min=1, help="GRPO steps."),
    generations: int = typer.Option(16, min=2, help="Rollouts per task (the group; paper: 16)."),
    prompts_per_step: int = typer.Option(1, min=1, help="Tasks per step."),
    learning_rate: float = typer.Option(1e-6, help="Learning rate."),
    temperature: float = typer.Option(1.0, min=0.0, help="Sampling temperature of the rollouts."),
    max_turns: int = typer.Option(16, min=1, help="Turns per episode (paper: 16)."),
    max_completion_length: int = typer.Option(13312, min=16, help="Tokens per episode, model and environment."),
    max_new_tokens: int = typer.Option(1024, min=1, help="Tokens per assistant turn."),
    fault_policy: str = typer.Option("drop", help="Unscored episodes (a simulator or the judge failed): drop "
                                     "(no advantage, left out of the group baseline) | zero (reward 0)."),
    concurrency: int = typer.Option(64, min=1, help="Episodes played at once."),
    seed: int = typer.Option(0),
) -> None:
    """GRPO with TRL on any world kind: the model plays the runtime's text protocol against the LLM user and
    LLM mock tools (mapping M shared by each group) and is rewarded by the rubric scorer with the LLM judge,
    all from one LLM config. Evaluate the result with `synthagent rollout --policy hf:OUT/model`."""
    from synthagent.train.grpo import GRPORunConfig, parse_reasoning_mix

    if fault_policy not in ("drop", "zero"):
        fail(f"--fault-policy: expected drop or zero, got {fault_policy!r}")
    if reasoning_mix:
        try:
            parse_reasoning_mix(reasoning_mix)
        except ValueError as err:
            fail(str(err))
    for label, path in (("--model", model), ("--config", config)):
        if not path.exists():
            fail(f"{label}: {path} does not exist")
    task_list = load_tasks(tasks)
    try:
        from synthagent.train.grpo import run_grpo_training
        import datasets

        datasets.disable_progress_bars()
    except ImportError as err:
        fail(f"{err}; install the train extra: pip install torch==2.13.0 && pip install 'synthagent[train,llm]'")
        raise
    cfg = GRPORunConfig(tasks=tasks, model=model, config=config, out=out, reasoning_mix=reasoning_mix, steps=steps,
                        generations=generations, prompts_per_step=prompts_per_step, learning_rate=learning_rate,
                        temperature=temperature,
                        max_turns=max_turns, max_completion_length=max_completion_length,
                        max_new_tokens=max_new_tokens, fault_policy=fault_policy, concurrency=concurrency, seed=seed)
    try:
        report = run_grpo_training(cfg, task_list, log=lambda line: console.print(line))
    except ValueError as err:  # a config or task set that cannot be played (missing roles, bad mix, …)
        fail(str(err))
        raise
    stats = report["rollouts"]
    summary = {"steps": report["steps"], "reward_per_step": report["reward_per_step"],
               "episodes": stats["episodes"], "unscored": stats["unscored"], "judge_calls": stats["judge_calls"],
               "tool_calls": stats["tool_calls"], "tool_cache_hits": stats["tool_cache_hits"],
               "seconds": report["seconds"], "model": report["model"], "report": str(out / "report.json")}
    out_console.print_json(json.dumps(summary))


def register(app: typer.Typer) -> None:
    """Mount `export` and `train` on the main CLI."""
    app.command("export")(export)
    app.add_typer(train_app, name="train")
