"""The `synthagent` command: synthesize, roll out, score, report, and the one-command demo."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from synthagent.command_errors import console, fail
from synthagent.command_inputs import load_runs, load_tasks
from synthagent.spec.io import FormatError
from synthagent.spec.models import Task, Trajectory

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Mock worlds in which small language models learn real agentic skills.")
synth_app = typer.Typer(no_args_is_help=True, help="Make tasks: procedurally (offline) or with a teacher model.")
app.add_typer(synth_app, name="synth")
out_console = Console(emoji=False)  # user text like "openai:x:" must not become an emoji


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
        table.add_row(name, spec.title, str(len(spec.tools)), str(len(spec.lookups)), str(len(spec.distractors)))
    out_console.print(table)


@app.command()
def schema(out: Path = typer.Option(Path("schemas"), help="Folder for the JSON Schema files.")) -> None:
    """Write the JSON Schemas of Task, Trajectory and RubricResult."""
    from synthagent.spec.schema import write_schemas

    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file; schemas go in a folder")
    for path in write_schemas(out):
        out_console.print(str(path), markup=False, highlight=False)


@synth_app.command("procedural")
def synth_procedural(
    out: Path = typer.Option(..., help="Output tasks JSONL (appended; resumes by task index)."),
    domains: str = typer.Option("all", help="Comma-separated domain names (gen-A..B: generated domains A to B), "
                                "or 'all'."),
    n: int = typer.Option(100, min=1, help="Number of tasks to attempt (may grow on a rerun)."),
    seed: int = typer.Option(0),
    difficulty: str = typer.Option("1,2,3,4,5", help="Comma-separated difficulty levels 1..5, rotated."),
    subgoals: Optional[int] = typer.Option(None, help="Override: sub-goals per task (1..4)."),
    hidden: Optional[int] = typer.Option(None, help="Override: hidden slots per task (0..5)."),
    distractors: Optional[int] = typer.Option(None, help="Override: distractor tools (0..3)."),
    mix: str = typer.Option("", help="Policy-tree branches: shares of tasks per leaf and of adversarial users among "
                            "illegal requests, e.g. act=0.2,refuse=0.2,transfer=0.1,alternative=0.1,adversarial=0.5 "
                            "(default: none, plain tasks)."),
    overwrite: bool = typer.Option(False, help="Discard --out, its rejections and settings; start again."),
) -> None:
    """Generate offline tasks with executable tools; each is self-tested and kept or rejected with a reason."""
    from synthagent.spec.manifest import ManifestMismatch
    from synthagent.synth.procedural import ProceduralPlan, rejections_path, resolve_domains, synthesize_to_file

    check_output_file(out, "--out")
    try:
        plan = ProceduralPlan(domains=resolve_domains(domains), n=n, seed=seed,
                              difficulties=parse_ints(difficulty, "difficulty"), subgoals=subgoals, hidden=hidden,
                              distractors=distractors, mix=mix)
    except KeyError as err:
        fail(f"--domains: {err.args[0]}")
    except ValueError as err:
        fail(str(err))
    counts = {"kept": 0, "rejected": 0}
    with progress() as bar:
        job = bar.add_task("synth", total=n, status="")

        def tick(item: object) -> None:
            counts["kept" if isinstance(item, Task) else "rejected"] += 1
            bar.update(job, advance=1, status=f"kept {counts['kept']} rejected {counts['rejected']}")

        def on_note(text: str) -> None:
            bar.console.print(escape(text), style="yellow", highlight=False, soft_wrap=True)

        try:
            kept, rejected = synthesize_to_file(plan, out, tick, overwrite=overwrite, on_note=on_note)
        except ManifestMismatch as err:
            fail(str(err))
        except (FormatError, ValueError) as err:
            fail(str(err))
        except UnicodeDecodeError as err:
            from synthagent.command_inputs import undecodable

            fail(undecodable(out, err))
    console.print(escape(f"{kept} tasks written to {out}; {rejected} rejected (reasons in {rejections_path(out)})"),
                  highlight=False, soft_wrap=True)


@app.command("rollout")
def rollout_cmd(
    tasks: Path = typer.Option(..., help="Tasks JSONL."),
    policy: str = typer.Option(..., help="oracle | eager | silent | random | openai:MODEL | hf:PATH"),
    out: Path = typer.Option(..., help="Runs JSONL (appended; resumes by task, policy and sample)."),
    k: int = typer.Option(1, min=1, help="Samples per task (may grow on a rerun)."),
    seed: int = typer.Option(0),
    concurrency: int = typer.Option(8, min=1),
    max_turns: int = typer.Option(16, min=1),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for openai:MODEL policies."),
    config: Optional[Path] = typer.Option(None, help="LLM YAML config (roles: policy, user, tool, judge)."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Policy: cap on generated tokens per turn."),
    timeout: Optional[float] = typer.Option(None, min=0.001, help="Policy: seconds per request (includes queueing)."),
    temperature: Optional[float] = typer.Option(None, min=0.0, max=2.0, help="Policy: sampling temperature."),
    max_retries: Optional[int] = typer.Option(None, min=0, help="Policy: retries of a failed request."),
    constrained_calls: bool = typer.Option(False, "--constrained-calls", help="hf:PATH policies: hold tool calls "
                                           "to the tools shown (names, argument keys, required keys)."),
    max_unscored: float = typer.Option(0.1, min=0.0, max=1.0,
                                       help="Exit 3 when more than this fraction of episodes is unscored."),
    retry_errors: bool = typer.Option(False, help="Also rerun episodes that ended in a policy error."),
    overwrite: bool = typer.Option(False, help="Discard this policy's runs and settings in --out; start again."),
    reward_preset: Optional[str] = typer.Option(None, "--reward-preset", help="paper (default) | authors; "
                                                "overrides the config's 'reward:' key."),
    wide: bool = typer.Option(False, "--wide", help="Every summary column in one table (default: tables that fit "
                              "80 columns)."),
) -> None:
    """Run a policy on tasks k times each, score every episode, and print a summary.

    Unscored episodes (an endpoint or simulator that failed for good) are counted apart and rerun next time.
    """
    from synthagent.rollout.metrics import summarize
    from synthagent.rollout.openai_policy import PolicyOptions
    from synthagent.rollout.runner import RolloutConfig, load_runs_light, rollout
    from synthagent.spec.manifest import ManifestMismatch, file_digest

    check_output_file(out, "--out")
    task_list = load_tasks(tasks)
    options = PolicyOptions(max_tokens=max_tokens, timeout_s=timeout, temperature=temperature, max_retries=max_retries,
                            constrained_calls=constrained_calls)
    pol = make_policy(policy, base_url, config, options)
    user, tool_backend, judge = make_backends(task_list, config, out)
    print_simulators(task_list, user, tool_backend)
    settings = {"policy": pol.name, "config": file_digest(config)}
    if hasattr(pol, "settings"):
        settings["policy_settings"] = pol.settings()
        console.print(f"policy {escape(pol.name)}: " + escape(", ".join(f"{k_}={v}" for k_, v in pol.settings().items()
                                                                         if v not in (None, {}))), highlight=False)
    cfg = RolloutConfig(k=k, seed=seed, concurrency=concurrency, max_turns=max_turns, retry_errors=retry_errors,
                        overwrite=overwrite, settings=settings,
                        reward=_reward_from(reward_preset, config))
    ids = {t.id for t in task_list}
    with progress() as bar:
        job = bar.add_task(escape(f"rollout {pol.name}"), total=len(task_list) * k, status="")
        rewards: list[float] = []
        unscored = [0]

        def tick(t: Trajectory) -> None:
            if t.unscored:
                unscored[0] += 1
            elif t.result:
                rewards.append(t.result.reward)
            mean = sum(rewards) / len(rewards) if rewards else 0.0
            bar.update(job, advance=1, status=f"mean reward {mean:.3f}" + (f", unscored {unscored[0]}" if unscored[0] else ""))

        def on_note(text: str) -> None:
            bar.console.print(escape(text), style="yellow", highlight=False, soft_wrap=True)
            if text.startswith("resumed"):
                bar.update(job, advance=int(text.split()[1]))

        async def go() -> None:
            try:
                await rollout(task_list, pol, user, tool_backend, out, cfg, tick, judge=judge, on_note=on_note)
            finally:
                await close_clients(pol, user, judge)

        try:
            asyncio.run(go())
        except ManifestMismatch as err:
            fail(str(err))
        except FormatError as err:
            fail(str(err))
    runs = [r for r in load_runs_light(out, pol.name) if r.task_id in ids]
    summary = summarize(runs)
    print_summary(summary, wide)
    fail_on_unscored(summary, max_unscored)


def print_simulators(task_list: list[Task], user: object, tools: object) -> None:
    """Which user and tool simulators each world kind of the task set gets (see the README's table)."""
    from synthagent.sim.kinds import KindCensus, WorldKindError

    try:
        lines = KindCensus.of(task_list).simulator_lines(task_list, user, tools)  # type: ignore[arg-type]
    except WorldKindError as err:
        fail(str(err))
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)


def check_output_file(out: Path, option: str) -> None:
    """An output file must be a file (or not exist yet) in a folder we can create."""
    if out.is_dir():
        fail(f"{option} {out}: is a folder; give a file path, e.g. {out / 'runs.jsonl'}")


def make_policy(spec: str, base_url: Optional[str], config: Optional[Path], options: object) -> object:
    from synthagent.rollout.policies import build_policy

    if spec.startswith("hf:") and spec[3:] and not Path(spec[3:]).exists():
        fail(f"--policy {spec}: no model folder at {spec[3:]}; give a local folder made by `synthagent train`")
    try:
        return build_policy(spec, base_url=base_url, config=config, options=options)
    except ModuleNotFoundError as err:
        fail(f"--policy {spec}: {err.name} is not installed; install the extra: pip install 'synthagent[train]'")
    except (KeyError, ValueError, OSError) as err:
        fail(f"--policy {spec}: {err.args[0] if err.args else err}")


def make_backends(task_list: list[Task], config: Optional[Path], out: Path) -> tuple:
    from synthagent.rollout.policies import build_backends

    try:
        return build_backends(task_list, config=config, store_dir=out.parent / "mock-tools")
    except ModuleNotFoundError as err:
        fail(f"--config {config}: {err.name} is not installed; install the extra: pip install 'synthagent[llm]'")
    except (ValueError, OSError) as err:
        fail(str(err))


async def close_clients(*owners: object) -> None:
    """Close every distinct LLM client the policy and simulators hold: the cache's last writes are flushed
    and the HTTP pools released, on every exit path."""
    seen: set[int] = set()
    for owner in owners:
        client = getattr(owner, "client", None)
        if client is None or id(client) in seen or not hasattr(client, "aclose"):
            continue
        seen.add(id(client))
        await client.aclose()


def fail_on_unscored(summary: dict, threshold: float) -> None:
    """Exit 3 when too many episodes are unscored: the numbers above are then about the infrastructure."""
    for policy, s in summary.items():
        n, bad = s.get("n", 0), s.get("unscored", 0)
        if n and bad / n > threshold:
            console.print(f"[bold red]error:[/] {escape(policy)}: {bad} of {n} episode(s) unscored "
                          f"(more than --max-unscored {threshold:g}); first fault: {escape(s.get('first_fault', ''))}. "
                          "Fix the endpoint and rerun: unscored episodes are retried.", highlight=False, soft_wrap=True)
            raise typer.Exit(3)


def _reward_from(preset: Optional[str], config: Optional[Path]):  # noqa: ANN202 (RewardConfig, imported lazily)
    """The reward preset: the flag, else the LLM config's `reward:` key, else the paper's formula."""
    from synthagent.reward.scorer import reward_config

    from_config = None
    if preset is None and config is not None:
        from synthagent.llm.config import ConfigError, load_config

        try:
            from_config = load_config(config).reward
        except ConfigError as err:
            fail(str(err))
    try:
        return reward_config(preset or from_config)
    except ValueError as err:
        fail(f"{config}: reward: {err}" if from_config else str(err))


def _table(*headers: str, title: str | None = None) -> Table:
    """A terminal table whose cells wrap (fold) instead of ending in "…" when 80 columns are all there is."""
    table = Table(title=title)
    for h in headers:
        table.add_column(h, overflow="fold")
    return table


def summary_tables(summary: dict, wide: bool = False) -> list[Table]:
    """The rollout/score summary. By default two tables that fit 80 columns (results; simulator health);
    `wide` puts every column in one table, for a terminal wide enough to hold it."""
    rows = []
    for policy, s in summary.items():
        passk = [key for key in s if key.startswith("pass^")]
        top = max(passk, key=lambda x: int(x[5:])) if passk else None
        sim = s.get("simulator", {})
        rows.append(([escape(policy), str(s["n"]), str(s.get("unscored", 0)), f"{s.get('mean_reward', 0):.3f}",
                      f"{s.get('success_rate', 0):.3f}", f"{top}={s[top]:.3f}" if top else "-"],
                     [f"{sim.get('user_leaks', 0):.3f}", f"{sim.get('premature_stop', 0):.3f}",
                      f"{sim.get('empty_user_turns', 0):.3f}", f"{sim.get('user_faults', 0):.3f}",
                      f"{sim['tool_cache_hits']:.2f}" if "tool_cache_hits" in sim else "-"]))
    result_cols = ("policy", "episodes", "unscored", "mean reward", "success", "pass^k")
    sim_cols = ("leaks", "premature stops", "empty turns", "user faults", "tool cache hits")
    if wide:
        table = _table(*result_cols, *sim_cols)
        for main, sim in rows:
            table.add_row(*main, *sim)
        return [table]
    results, health = _table(*result_cols), _table("policy", *sim_cols, title="user and tool simulators")
    for main, sim in rows:
        results.add_row(*main)
        health.add_row(main[0], *sim)
    return [results, health]


def print_summary(summary: dict, wide: bool = False) -> None:
    for table in summary_tables(summary, wide):
        out_console.print(table)
    for policy, s in summary.items():
        if s.get("unscored"):
            faults = ", ".join(f"{role} {n}" for role, n in s.get("faults", {}).items())
            console.print(f"[yellow]{escape(policy)}: {s['unscored']} unscored episode(s) ({escape(faults)}), not "
                          f"counted above; first error: {escape(s.get('first_fault', ''))}[/]", highlight=False, soft_wrap=True)


@app.command()
def score(
    runs: list[Path] = typer.Option(..., help="Runs JSONL file(s)."),
    tasks: Optional[Path] = typer.Option(None, help="Tasks JSONL: rescore every run against it."),
    config: Optional[Path] = typer.Option(None, help="LLM config with a judge role, for items without checks."),
    reward_preset: Optional[str] = typer.Option(None, "--reward-preset", help="paper (default) | authors; "
                                                "overrides the config's 'reward:' key."),
    judge_view: str = typer.Option("ours", help="What the judge sees: ours | authors (question, rubric markdown, "
                                                "whole solution)."),
    votes: int = typer.Option(1, min=1, help="Judge self-consistency: votes per item, majority decides."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and per-item verdicts as JSON."),
    wide: bool = typer.Option(False, "--wide", help="Every summary column in one table (default: tables that fit "
                              "80 columns)."),
) -> None:
    """Score runs: per-item verdicts, mean reward, success rate, pass^k and simulator metrics.

    Unscored runs (a fault: endpoint, simulator or judge) are counted apart, with their error message.
    """
    from synthagent.reward.scorer import ScoringError, score_episode
    from synthagent.rollout.metrics import summarize

    judge = None
    if config is not None:
        try:
            from synthagent.llm.client import LLMClient
            from synthagent.llm.config import ConfigError, load_config
            from synthagent.reward.judge import LLMJudge
        except ModuleNotFoundError as err:
            fail(f"--config {config}: {err.name} is not installed; install the extra: pip install 'synthagent[llm]'")
        try:
            judge = LLMJudge(LLMClient(load_config(config)), view=judge_view, votes=votes)  # type: ignore[arg-type]
        except (ConfigError, ValueError) as err:
            fail(str(err))
    reward = _reward_from(reward_preset, config)

    trajectories = load_runs(runs)
    share = None
    if tasks is not None:
        from synthagent.reward.coverage import compiled_share

        by_id = {t.id: t for t in load_tasks(tasks)}
        for traj in trajectories:
            if traj.task_id not in by_id:
                fail(f"run of task {traj.task_id} ({traj.policy}, sample {traj.sample}): task not in {tasks}")

        async def rescore() -> None:
            try:
                for traj in trajectories:
                    if traj.fault is not None and traj.fault.role != "judge":
                        continue  # the episode itself is broken: nothing to score
                    traj.fault = None
                    await score_episode(by_id[traj.task_id], traj, reward, judge=judge)  # judge failure: unscored
            finally:
                await close_clients(judge)

        try:
            asyncio.run(rescore())
        except ScoringError as err:
            fail(str(err))
        share = compiled_share(by_id[i] for i in dict.fromkeys(t.task_id for t in trajectories))
    missing = sum(t.result is None and not t.unscored for t in trajectories)
    if missing:
        console.print(f"[yellow]{missing} run(s) carry no result; pass --tasks to score them[/]")
    summary = summarize(trajectories)
    if as_json:
        write_score_json(trajectories, summary, share)
        return
    print_summary(summary, wide)
    print_reliability(summary)
    if share is not None:
        from synthagent.reward.coverage import describe_share

        out_console.print(describe_share(share), highlight=False, soft_wrap=True)
    for policy, per_item in item_counts(trajectories).items():
        table = _table("rubric item", "met", "failed", title=f"{escape(policy)}: verdicts by item")
        for key, c in sorted(per_item.items()):
            table.add_row(escape(key), str(c["met"]), str(c["failed"]))
        out_console.print(table)


def print_reliability(summary: dict) -> None:
    """pass^1…pass^k with their 95% bootstrap intervals and the tasks whose verdict flips across trials."""
    for policy, s in summary.items():
        if not s.get("interval95"):
            continue
        cells = " · ".join(f"{k} {s[k]:.3f} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in s["interval95"].items())
        flips = s.get("verdict_flips", {})
        out_console.print(f"{escape(policy)}: {cells} (95% bootstrap over {s['tasks']} tasks); "
                          f"{flips.get('tasks_flipping', 0)} task(s) flip verdict across trials "
                          f"({flips.get('flips', 0)} flips); {s.get('unscored', 0)} unscored trial(s) not counted",
                          highlight=False, soft_wrap=True)


def item_counts(trajectories: list[Trajectory]) -> dict[str, dict[str, dict[str, int]]]:
    """{policy: {item (or section for numbered items): {met, failed}}} over the scored runs."""
    items: dict[str, dict[str, dict[str, int]]] = {}
    for t in trajectories:
        if t.result is None:
            continue
        per_policy = items.setdefault(t.policy, {})
        for v in t.result.items:
            key = v.id if not v.id.startswith("subgoal-") and not v.id.startswith("interaction-") else v.section
            counts = per_policy.setdefault(key, {"met": 0, "failed": 0})
            counts["met" if v.met else "failed"] += 1
    return items


def write_score_json(trajectories: list[Trajectory], summary: dict, compiled: dict | None = None) -> None:
    """Plain JSON streamed to stdout, one verdict at a time: no rich rendering (which took 91 s and 5.7 GB
    on 16,000 runs) and no one big string holding every verdict. `compiled`: the share of rubric items
    compiled to checks (`reward.coverage`), when the tasks were given."""
    write = sys.stdout.write
    write('{"summary": ' + json.dumps(summary) + ', "items": ' + json.dumps(item_counts(trajectories)))
    if compiled is not None:
        write(', "compiled": ' + json.dumps(compiled))
    write(', "unscored": [')
    first = True
    for t in trajectories:
        if t.unscored:
            write(("" if first else ", ") + json.dumps({"task_id": t.task_id, "policy": t.policy, "sample": t.sample,
                                                         "fault": t.fault.model_dump()}))
            first = False
    write('], "verdicts": [')
    first = True
    for t in trajectories:
        if t.result is None:
            continue
        write(("" if first else ",\n") + json.dumps({"task_id": t.task_id, "policy": t.policy, "sample": t.sample,
                                                       "reward": t.result.reward,
                                                       "items": [v.model_dump() for v in t.result.items]}))
        first = False
    write("]}\n")
    sys.stdout.flush()


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), help="Folder for tasks, runs, summary.json and the report."),
    per_domain: int = typer.Option(5, min=1, help="Tasks per domain."),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, help="Discard what --out holds (tasks, runs, settings); start again."),
) -> None:
    """Synthesize tasks in every domain, roll out the reference and red-team policies, score, report."""
    from synthagent.demo import run_demo
    from synthagent.spec.manifest import ManifestMismatch

    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file; the demo writes a folder")
    try:
        summary, report_path = run_demo(out, per_domain=per_domain, seed=seed, console=console, overwrite=overwrite)
    except ManifestMismatch as err:
        fail(str(err))
    except FormatError as err:
        fail(str(err))
    table = Table("policy", "mean reward", "success rate", "legal", "illegal",
                  title=f"{summary['n_tasks']} tasks, {len(summary['domains'])} domains; policy-tree tasks: legal "
                        f"and illegal requests (mean reward)")
    trees = summary["policy_trees"]["mean_reward"]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for name, s in summary["policies"].items():
        sides = trees.get(name, {})
        table.add_row(escape(name), f"{s['mean_reward']:.3f}", f"{s['success_rate']:.3f}", cell(sides.get("legal")),
                      cell(sides.get("illegal")))
    out_console.print(table)
    out_console.print(f"summary: {out / 'summary.json'}", markup=False, highlight=False)
    if report_path is not None:
        out_console.print(f"report:  {report_path}", markup=False, highlight=False)


def _mount_optional_commands() -> None:
    """Commands whose modules live with their stage register themselves here."""
    from synthagent.integrations.cli import register as register_integrations
    from synthagent.integrations.server.cli import register as register_serve
    from synthagent.report.cli import register as register_report
    from synthagent.reward.cli import register as register_reward

    from synthagent.commands.synth_llm import register as register_synth_llm
    from synthagent.train.cli import register as register_train

    register_report(app)
    register_reward(app)
    register_integrations(app)
    register_serve(app)
    register_synth_llm(synth_app)
    register_train(app)


_mount_optional_commands()


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
