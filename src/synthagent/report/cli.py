"""`synthagent report`: tasks + runs JSONL → the static HTML report. Mounted by the main CLI via `register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from synthagent.command_errors import fail
from synthagent.command_inputs import load_runs, load_tasks

SHOWN_MISSING = 3


def register(app: typer.Typer) -> None:
    """Add the `report` command to `app`."""

    @app.command("report")
    def report(
        out: Annotated[Path, typer.Option("--out", help="Folder to write the report into.")],
        tasks: Annotated[Optional[Path], typer.Option("--tasks", help="Tasks JSONL, one Task per line.")] = None,
        runs: Annotated[Optional[list[Path]], typer.Option("--runs", help="Runs JSONL (scored trajectories); "
                                                                         "repeatable.")] = None,
        evals: Annotated[Optional[list[Path]], typer.Option("--eval", help="Results JSON of `synthagent eval tau2|bfcl`"
                                                                          "; repeatable: several runs on one page, "
                                                                          "with whether they are comparable.")] = None,
        title: Annotated[str, typer.Option("--title", help="Title of the overview page.")] = "synthagent report",
    ) -> None:
        """Write a self-contained HTML report (overview, task and trajectory pages) and print its path.

        Every run must belong to a task of --tasks (runs of another tasks file are a mistake, not data).
        With --eval, the eval results go to eval.html in the same folder (alone, or beside the report).
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from synthagent.command_errors import console
        from synthagent.report.build import write_report
        from synthagent.report.evals import EvalFileError, load_eval, write_eval_page

        if out.exists() and not out.is_dir():
            fail(f"{out}: exists and is not a folder; --out names the folder to write the report into")
        if (tasks is None) != (not runs):
            fail("--tasks and --runs go together: the runs of the tasks they were rolled out from")
        if tasks is None and not evals:
            fail("nothing to report: give --tasks with --runs, or --eval, or both")
        try:
            results = [load_eval(path) for path in evals or []]
        except EvalFileError as err:
            fail(str(err))
        if tasks is None or not runs:
            page = write_eval_page(results, out / "eval.html", title=title)
            typer.echo(f"report: {len(results)} eval result(s)")
            typer.echo(str(page))
            return
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
            index = write_report(task_list, run_list, out, title=title, evals=results,
                                 progress=lambda done, total: bar.update(job, completed=done, total=total))
        typer.echo(f"report: {len(task_list)} tasks, {len(run_list)} trajectories"
                   + (f", {len(results)} eval result(s)" if results else ""))
        typer.echo(str(index))
        if results:
            typer.echo(str(out / "eval.html"))
