"""Task and run files read for a command: a file that cannot be read is an error naming file, line and field
(:class:`~synthagent.spec.io.FormatError`), reported by :func:`~synthagent.command_errors.fail` (exit 2)."""

from __future__ import annotations

from pathlib import Path

from synthagent.command_errors import fail, note
from synthagent.spec.io import FormatError, read_jsonl
from synthagent.spec.models import Task, Trajectory, unique_runs


def undecodable(path: Path, err: UnicodeDecodeError) -> str:
    """Name the file and the first line that is not UTF-8 (a binary file given where JSONL was expected)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                return f"{path}:{number}: not UTF-8 text (byte {bad.start + 1} of the line: {bad.reason}); expected JSONL"
    return f"{path}: not UTF-8 text ({err.reason}); expected JSONL"


def _read(path: Path, model: type) -> list:
    if path.is_dir():
        fail(f"{path}: is a folder; expected a JSONL file")
    try:
        return read_jsonl(path, model)
    except UnicodeDecodeError as err:
        fail(undecodable(path, err))
    except (FormatError, OSError) as err:
        fail(str(err))


def load_tasks(path: Path) -> list[Task]:
    """Tasks of a JSONL file, each id once (a repeated id is reported and its later copies dropped)."""
    tasks = _read(path, Task)
    if not tasks:
        fail(f"{path}: no tasks in the file; nothing to do")
    seen: set[str] = set()
    unique = []
    for task in tasks:
        if task.id not in seen:
            seen.add(task.id)
            unique.append(task)
    if len(unique) < len(tasks):
        note(f"{path}: {len(tasks) - len(unique)} duplicate task id(s) ignored (each task counts once)")
    return unique


def load_runs(paths: list[Path]) -> list[Trajectory]:
    """Runs of the files, one per (task, policy, sample): a key read twice counts once (the later record)."""

    runs: list[Trajectory] = []
    for path in paths:
        runs.extend(_read(path, Trajectory))
    if not runs:
        fail(f"{', '.join(map(str, paths))}: no runs in the file(s); nothing to do")
    unique, duplicates = unique_runs(runs)
    if duplicates:
        note(f"{duplicates} duplicate run(s) of the same (task, policy, sample) ignored (each counts once)")
    return unique
