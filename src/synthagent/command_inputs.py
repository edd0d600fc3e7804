"""Task and run files read for a command: a file that cannot be read is an error naming file, line and field
(:class:`~synthagent.spec.io.FormatError`), reported by :func:`~synthagent.command_errors.fail` (exit 2)."""

from __future__ import annotations

from pathlib import Path

from synthagent.command_errors import fail
from synthagent.spec.io import FormatError, read_jsonl
from synthagent.spec.models import Task, Trajectory


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
