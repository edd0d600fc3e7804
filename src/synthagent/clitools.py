"""What every command shares: reading task and run files with a clean error and exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from synthagent.spec.io import FormatError, read_jsonl
from synthagent.spec.models import Task, Trajectory

console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def load_tasks(path: Path) -> list[Task]:
    try:
        return read_jsonl(path, Task)
    except (FormatError, OSError, UnicodeDecodeError) as err:
        fail(str(err))


def load_runs(paths: list[Path]) -> list[Trajectory]:
    runs: list[Trajectory] = []
    for path in paths:
        try:
            runs.extend(read_jsonl(path, Trajectory))
        except (FormatError, OSError, UnicodeDecodeError) as err:
            fail(str(err))
    return runs
