"""`synthagent report`: tasks + runs JSONL → the static HTML report. Mounted by the main CLI via `register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthagent.command_errors import fail
from synthagent.command_inputs import load_runs, load_tasks

SHOWN_MISSING = 3


def register(app: typer.Typer) -> None:
    """Add the `report` command to `app`."""

    @app.command("report")
    def report(
        tasks: Annotated[Path, typer.Option("--tasks", help="Tasks JSONL, one Task per line.")],
        runs: Annotated[list[Path], typer.Option("--runs", help="Runs JSONL (scored trajectories); repeatable.")],
        out: Annotated[Path, typer.Option("--out", help="Folder to write the report into.")],
        title: Annotated[str, typer.Option("--title", help="Title of the overview page.")] = "synthagent report",
    ) -> None:
        """Write a self-contained HTML report (overview, task and trajectory pages) and print its path.

        Every run must belong to a task of --tasks (runs of another tasks file are a mistake, not data).
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from synthagent.command_errors import console
        from synthagent.report.build import write_report

        if out.exists() and not out.is_dir():
            fail(f"{out}: exists and is not a folder; --out names the folder to write the report into")
        task_list = load_tasks(tasks)
        run_list = load_runs(runs)
        known = {t.id for t in task_list}
        missing = list(dict.fromkeys(r.task_id for r in run_list if r.task_id not in known))
        if missing:
            n_runs = sum(r.task_id not in known for r in run_list)
            shown = ", ".join(repr(m) for m in missing[:SHOWN_MISSING]) + (" …" if len(missing) > SHOWN_MISSING else "")
            fail(f"{', '.join(map(str, runs))}: {n_runs} run(s) of {len(missing)} task id(s) not in {tasks} ({shown}); "
                 "give the tasks file these runs were rolled out from")
        with Progress(TextColumn("report"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            job = bar.add_task("report", total=len(known))
            index = write_report(task_list, run_list, out, title=title,
                                 progress=lambda done, total: bar.update(job, completed=done, total=total))
        typer.echo(f"report: {len(task_list)} tasks, {len(run_list)} trajectories")
        typer.echo(str(index))
