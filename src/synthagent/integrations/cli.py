"""`synthagent import-release` / `export-release`: the authors' SynthAgent training JSON in and out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from synthagent.spec.io import FormatError, read_jsonl, write_jsonl
from synthagent.spec.models import Task

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("import-release")
    def import_release_cmd(
        source: Path = typer.Argument(..., help="The authors' release JSON (a list of records) or JSONL."),
        out: Path = typer.Option(..., help="Tasks JSONL to write."),
    ) -> None:
        """Import the original SynthAgent release into our Task format (rubrics become judge items)."""
        from synthagent.integrations.synthagent_release import import_release

        try:
            tasks = import_release(source)
        except (FormatError, FileNotFoundError) as err:
            console.print(f"[bold red]error:[/] {err}")
            raise typer.Exit(2)
        write_jsonl(out, tasks)
        console.print(f"{len(tasks)} tasks written to {out}")

    @app.command("export-release")
    def export_release_cmd(
        tasks: Path = typer.Option(..., help="Tasks JSONL."),
        out: Path = typer.Option(..., help="Release JSON to write."),
    ) -> None:
        """Export tasks in the authors' training JSON layout (policy, tools block, background, rubric markdown)."""
        from synthagent.integrations.synthagent_release import write_release

        try:
            loaded = read_jsonl(tasks, Task)
        except (FormatError, FileNotFoundError) as err:
            console.print(f"[bold red]error:[/] {err}")
            raise typer.Exit(2)
        write_release(loaded, out)
        console.print(f"{len(loaded)} records written to {out}")
