"""The `synthagent` command: synthesize, roll out, score, report, and the one-command demo."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from synthagent.command_errors import console, fail
from synthagent.command_inputs import load_runs, load_tasks
from synthagent.spec.io import FormatError, read_jsonl
from synthagent.spec.models import Task, Trajectory

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Mock worlds in which small language models learn real agentic skills.")
synth_app = typer.Typer(no_args_is_help=True, help="Make tasks: procedurally (offline) or with a teacher model.")
app.add_typer(synth_app, name="synth")
out_console = Console()


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[status]}"), console=console, transient=False)


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        fail(f"--{name}: expected comma-separated integers, got {text!r}")
        raise


# ------------------------------------------------------------------------------------------ commands


@app.command()
def domains() -> None:
    """List the procedural domains."""
    from synthagent.worlds import all_domains

    table = Table("domain", "title", "tools", "lookups", "distractors")
    for name, spec in sorted(all_domains().items()):
        table.add_row(name, spec["title"], str(len(spec["tools"])), str(len(spec["lookups"])),
                      str(len(spec["distractors"])))
    out_console.print(table)


@app.command()
def schema(out: Path = typer.Option(Path("schemas"), help="Folder for the JSON Schema files.")) -> None:
    """Write the JSON Schemas of Task, Trajectory and RubricResult."""
    from synthagent.spec.schema import write_schemas

    for path in write_schemas(out):
        out_console.print(str(path))


@synth_app.command("procedural")
def synth_procedural(
    out: Path = typer.Option(..., help="Output tasks JSONL (appended; resumes by task index)."),
    domains: str = typer.Option("all", help="Comma-separated domain names, or 'all'."),
    n: int = typer.Option(100, min=1, help="Number of tasks to attempt."),
    seed: int = typer.Option(0),
    difficulty: str = typer.Option("1,2,3,4,5", help="Comma-separated difficulty levels 1..5, rotated."),
    subgoals: Optional[int] = typer.Option(None, help="Override: sub-goals per task (1..4)."),
    hidden: Optional[int] = typer.Option(None, help="Override: hidden slots per task (0..5)."),
    distractors: Optional[int] = typer.Option(None, help="Override: distractor tools (0..3)."),
) -> None:
    """Generate offline tasks with executable tools; each is self-tested and kept or rejected with a reason."""
    from synthagent.synth.procedural import ProceduralPlan, rejections_path, resolve_domains, synthesize_to_file

    try:
        plan = ProceduralPlan(domains=resolve_domains(domains), n=n, seed=seed,
                              difficulties=parse_ints(difficulty, "difficulty"), subgoals=subgoals, hidden=hidden,
                              distractors=distractors)
        for level in plan.difficulties:
            if not 1 <= level <= 5:
                fail(f"--difficulty: levels are 1..5, got {level}")
    except KeyError as err:
        fail(str(err.args[0]))
    counts = {"kept": 0, "rejected": 0}
    with progress() as bar:
        job = bar.add_task("synth", total=n, status="")

        def tick(item: object) -> None:
            counts["kept" if isinstance(item, Task) else "rejected"] += 1
            bar.update(job, advance=1, status=f"kept {counts['kept']} rejected {counts['rejected']}")

        try:
            kept, rejected = synthesize_to_file(plan, out, tick)
        except (FormatError, ValueError) as err:
            fail(str(err))
    console.print(f"{kept} tasks written to {out}; {rejected} rejected (reasons in {rejections_path(out)})")


@app.command("rollout")
def rollout_cmd(
    tasks: Path = typer.Option(..., help="Tasks JSONL."),
    policy: str = typer.Option(..., help="oracle | eager | silent | random | openai:MODEL | hf:PATH"),
    out: Path = typer.Option(..., help="Runs JSONL (appended; resumes by task, policy and sample)."),
    k: int = typer.Option(1, min=1, help="Samples per task."),
    seed: int = typer.Option(0),
    concurrency: int = typer.Option(8, min=1),
    max_turns: int = typer.Option(16, min=1),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for openai:MODEL policies."),
    config: Optional[Path] = typer.Option(None, help="LLM YAML config (roles: policy, user, tool, judge)."),
) -> None:
    """Run a policy on tasks k times each, score every episode, and print a summary."""
    from synthagent.rollout.metrics import summarize
    from synthagent.rollout.policies import build_backends, build_policy
    from synthagent.rollout.runner import RolloutConfig, rollout

    task_list = load_tasks(tasks)
    try:
        pol = build_policy(policy, base_url=base_url, config=config)
    except (KeyError, ValueError) as err:
        fail(str(err.args[0] if err.args else err))
    try:
        user, tool_backend, judge = build_backends(task_list, config=config, store_dir=out.parent / "mock-tools")
    except ValueError as err:
        fail(str(err))
    cfg = RolloutConfig(k=k, seed=seed, concurrency=concurrency, max_turns=max_turns)
    with progress() as bar:
        job = bar.add_task(f"rollout {pol.name}", total=len(task_list) * k, status="")
        from synthagent.rollout.runner import existing_keys

        bar.update(job, advance=len({key for key in existing_keys(out) if key[1] == pol.name}))
        rewards: list[float] = []

        def tick(t: Trajectory) -> None:
            if t.result:
                rewards.append(t.result.reward)
            mean = sum(rewards) / len(rewards) if rewards else 0.0
            bar.update(job, advance=1, status=f"mean reward {mean:.3f}")

        asyncio.run(rollout(task_list, pol, user, tool_backend, out, cfg, tick, judge=judge))
    runs = [r for r in read_jsonl(out, Trajectory) if r.policy == pol.name]
    print_summary(summarize(runs))


def print_summary(summary: dict) -> None:
    table = Table("policy", "episodes", "mean reward", "success", "pass^k", "leaks", "premature stops",
                  "empty turns", "user faults", "tool cache hits")
    for policy, s in summary.items():
        passk = [key for key in s if key.startswith("pass^")]
        top = max(passk, key=lambda x: int(x[5:])) if passk else None
        sim = s.get("simulator", {})
        table.add_row(policy, str(s["n"]), f"{s.get('mean_reward', 0):.3f}", f"{s.get('success_rate', 0):.3f}",
                      f"{top}={s[top]:.3f}" if top else "-", f"{sim.get('user_leaks', 0):.3f}",
                      f"{sim.get('premature_stop', 0):.3f}", f"{sim.get('empty_user_turns', 0):.3f}",
                      f"{sim.get('user_faults', 0):.3f}",
                      f"{sim['tool_cache_hits']:.2f}" if "tool_cache_hits" in sim else "-")
    out_console.print(table)


@app.command()
def score(
    runs: list[Path] = typer.Option(..., help="Runs JSONL file(s)."),
    tasks: Optional[Path] = typer.Option(None, help="Tasks JSONL: rescore every run against it."),
    config: Optional[Path] = typer.Option(None, help="LLM config with a judge role, for items without checks."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and per-item verdicts as JSON."),
) -> None:
    """Score runs: per-item verdicts, mean reward, success rate, pass^k and simulator metrics."""
    from synthagent.reward.scorer import ScoringError, score_async
    from synthagent.rollout.metrics import summarize

    judge = None
    if config is not None:
        from synthagent.llm.client import LLMClient
        from synthagent.llm.config import load_config
        from synthagent.reward.judge import LLMJudge

        judge = LLMJudge(LLMClient(load_config(config)))

    trajectories = load_runs(runs)
    if tasks is not None:
        by_id = {t.id: t for t in load_tasks(tasks)}
        for traj in trajectories:
            if traj.task_id not in by_id:
                fail(f"run of task {traj.task_id} ({traj.policy}, sample {traj.sample}): task not in {tasks}")

        async def rescore() -> None:
            for traj in trajectories:
                traj.result = await score_async(by_id[traj.task_id], traj, judge=judge)

        try:
            asyncio.run(rescore())
        except ScoringError as err:
            fail(str(err))
    unscored = sum(t.result is None for t in trajectories)
    if unscored:
        console.print(f"[yellow]{unscored} run(s) carry no result; pass --tasks to score them[/]")
    summary = summarize(trajectories)
    items: dict[str, dict[str, dict[str, int]]] = {}
    for t in trajectories:
        if t.result is None:
            continue
        per_policy = items.setdefault(t.policy, {})
        for v in t.result.items:
            key = v.id if not v.id.startswith("subgoal-") and not v.id.startswith("interaction-") else v.section
            counts = per_policy.setdefault(key, {"met": 0, "failed": 0})
            counts["met" if v.met else "failed"] += 1
    if as_json:
        verdicts = [{"task_id": t.task_id, "policy": t.policy, "sample": t.sample, "reward": t.result.reward,
                     "items": [v.model_dump() for v in t.result.items]} for t in trajectories if t.result]
        out_console.print_json(json.dumps({"summary": summary, "items": items, "verdicts": verdicts}))
        return
    print_summary(summary)
    for policy, per_item in items.items():
        table = Table("rubric item", "met", "failed", title=f"{policy}: verdicts by item")
        for key, c in sorted(per_item.items()):
            table.add_row(key, str(c["met"]), str(c["failed"]))
        out_console.print(table)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), help="Folder for tasks, runs, summary.json and the report."),
    per_domain: int = typer.Option(5, min=1, help="Tasks per domain."),
    seed: int = typer.Option(0),
) -> None:
    """Synthesize tasks in every domain, roll out the four reference policies, score, report."""
    from synthagent.demo import run_demo

    summary, report_path = run_demo(out, per_domain=per_domain, seed=seed, console=console)
    table = Table("policy", "mean reward", "success rate", title=f"{summary['n_tasks']} tasks, "
                  f"{len(summary['domains'])} domains")
    for name, s in summary["policies"].items():
        table.add_row(name, f"{s['mean_reward']:.3f}", f"{s['success_rate']:.3f}")
    out_console.print(table)
    out_console.print(f"summary: {out / 'summary.json'}")
    if report_path is not None:
        out_console.print(f"report:  {report_path}")


def _mount_optional_commands() -> None:
    """Commands whose modules live with their stage register themselves here."""
    from synthagent.integrations.cli import register as register_integrations
    from synthagent.report.cli import register as register_report
    from synthagent.reward.cli import register as register_reward

    from synthagent.synth.llm.cli import register as register_synth_llm
    from synthagent.train.cli import register as register_train

    register_report(app)
    register_reward(app)
    register_integrations(app)
    register_synth_llm(synth_app)
    register_train(app)


_mount_optional_commands()


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
