"""`synthagent report`: tasks + runs JSONL → the static HTML report. Mounted by the main CLI via `register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthagent.spec.io import FormatError, read_jsonl
from synthagent.spec.models import Task, Trajectory


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

        try:
            task_list = read_jsonl(tasks, Task)
            run_list: list[Trajectory] = []
            for path in runs:
                run_list.extend(read_jsonl(path, Trajectory))
        except (FormatError, OSError, UnicodeDecodeError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2) from None
        index = write_report(task_list, run_list, out, title=title)
        typer.echo(f"report: {len(task_list)} tasks, {len(run_list)} trajectories")
        typer.echo(str(index))
