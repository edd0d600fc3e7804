"""`synthagent report`: tasks + runs JSONL → the static HTML report. Mounted by the main CLI via `register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthagent.command_inputs import load_runs, load_tasks


def register(app: typer.Typer) -> None:
    """Add the `report` command to `app`."""

    @app.command("report")
    def report(
        tasks: Annotated[Path, typer.Option("--tasks", help="Tasks JSONL, one Task per line.")],
        runs: Annotated[list[Path], typer.Option("--runs", help="Runs JSONL (scored trajectories); repeatable.")],
        out: Annotated[Path, typer.Option("--out", help="Folder to write the report into.")],
        title: Annotated[str, typer.Option("--title", help="Title of the overview page.")] = "synthagent report",
    ) -> None:
        """Write a self-contained HTML report (overview, task and trajectory pages) and print its path."""
        from synthagent.report.build import write_report

        task_list = load_tasks(tasks)
        run_list = load_runs(runs)
        index = write_report(task_list, run_list, out, title=title)
        typer.echo(f"report: {len(task_list)} tasks, {len(run_list)} trajectories")
        typer.echo(str(index))
