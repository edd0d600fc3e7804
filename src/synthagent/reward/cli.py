"""`synthagent judge-calibrate`: the LLM judge's agreement with programmatic checks (a reward-stage command)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `judge-calibrate` command to `app`."""

    @app.command("judge-calibrate")
    def judge_calibrate(
        tasks: Annotated[Path, typer.Option("--tasks", help="Tasks JSONL (items with programmatic checks).")],
        runs: Annotated[list[Path], typer.Option("--runs", help="Runs JSONL (trajectories); repeatable.")],
        config: Annotated[Path, typer.Option("--config", help="LLM YAML config; the 'judge' role is used.")],
        mode: Annotated[str, typer.Option("--mode", help="batch (one call per trajectory) or per_item.")] = "batch",
        view: Annotated[str, typer.Option("--judge-view", help="ours | authors (what the judge sees).")] = "ours",
        votes: Annotated[int, typer.Option("--votes", min=1, help="Self-consistency: votes, majority decides.")] = 1,
        limit: Annotated[int, typer.Option("--limit", min=0, help="Judge at most this many runs (0: all).")] = 0,
        concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 8,
        red_team: Annotated[bool, typer.Option("--red-team", help="Also judge the red-team policies' episodes on "
                                               "every task that needs no model; report the judge's pass rate.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    ) -> None:
        """Ask the judge about items that have programmatic checks and report agreement and Cohen's kappa."""
        from synthagent.llm import ConfigError, LLMClient, load_config
        from synthagent.reward.calibrate import calibrate, red_team_runs
        from synthagent.command_errors import fail
        from synthagent.command_inputs import load_runs, load_tasks
        from synthagent.reward.judge import JUDGE_VIEWS, LLMJudge

        task_list = load_tasks(tasks)
        run_list = load_runs(runs)
        try:
            cfg = load_config(config)
        except ConfigError as err:
            fail(str(err))
        if mode not in ("batch", "per_item"):
            typer.echo(f"error: --mode must be batch or per_item, got {mode!r}", err=True)
            raise typer.Exit(code=2)
        if view not in JUDGE_VIEWS:
            fail(f"--judge-view must be one of {', '.join(JUDGE_VIEWS)}, got {view!r}")
        if limit:
            run_list = run_list[:limit]
        if red_team:
            run_list = run_list + red_team_runs(task_list)

        async def go() -> dict:
            async with LLMClient(cfg) as client:
                report = await calibrate(task_list, run_list, LLMJudge(client, mode=mode, view=view, votes=votes),  # type: ignore[arg-type]
                                         concurrency=concurrency)
                return report.summary()

        summary = asyncio.run(go())
        if as_json:
            typer.echo(json.dumps(summary, indent=1))
            return
        _print(summary)


def _print(summary: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    table = Table("slice", "items", "agreement", "kappa", "tp", "tn", "fp (judge met)", "fn (judge not met)",
                  title=f"judge vs checks: {summary['trajectories']} trajectories")
    rows = [("overall", summary["overall"])] + list(summary["sections"].items()) + \
        [(f"check {op}", c) for op, c in summary["by_check"].items()]
    for name, c in rows:
        table.add_row(name, str(c["n"]), fmt(c["agreement"]), fmt(c["kappa"]), str(c["tp"]), str(c["tn"]),
                      str(c["fp"]), str(c["fn"]))
    console = Console(emoji=False)
    console.print(table)
    red = summary["red_team"]
    if red["n"]:
        console.print(f"red team: the judge passed {fmt(red['judge_pass_rate'])} of {red['n']} items the red-team "
                      f"policies' episodes were graded on (the checks: {fmt(red['check_pass_rate'])})", markup=False)
    if summary["skipped"]:
        console.print(f"[yellow]{len(summary['skipped'])} skipped[/] (first: {escape(summary['skipped'][0]['reason'])})")
    for d in summary["disagreements"][:5]:
        console.print(f"disagree {d['task_id'][:12]} {d['policy']}#{d['sample']} {d['item_id']}: "
                      f"check={'met' if d['check_met'] else 'not met'} judge={'met' if d['judge_met'] else 'not met'}"
                      f" — {d['judge_evidence']}")
