"""Tasks as verl RL data rows, in the SynthAgent release's prompt layout, and back.

verl's RL trainer reads a parquet file with one row per prompt. The columns follow verl's own data
preprocessing examples; what goes in them follows the SynthAgent release, so the authors' rollout and
reward code sees exactly the prompt, tools, background and rubric it was written for:

    data_source    "synthagent" by default (verl picks the reward function by it)
    prompt         [system, user] messages, byte for byte the release prompt (policy + <tools> block, then
                   "Task Description: …" + requirements)
    ability        "agent"
    reward_model   {"style": "rule", "ground_truth": the typed rubric as JSON}: "rule" because a custom
                   reward function (the rubric judge), not a reward model, scores the rollout
    extra_info     index, split, task_id, release_id,
                   tools            JSON text: the release tool objects, `outputs` included
                   task_background  the hidden user background
                   rubrics          the release rubric markdown
                   interaction_kwargs {"name": "synthagent_user", "task_background": …} for verl's
                                    multi-turn interaction (the simulated user)
                   task             JSON text of the whole Task ("" when not embedded)

Tools and the task travel as JSON text, not nested columns: every task has its own tool schemas, and a
parquet column needs one type for all rows. verl's per-tool `tools_kwargs` is left out for the same
reason (its keys are tool names); a tool backend finds the specs in `tools`.

`verl_row_to_task` restores the embedded Task when there is one (lossless), after checking that the
row's prompt still matches it; otherwise it reads the row like a release record.

Parquet needs `pyarrow`, an optional dependency imported only by `write_verl_parquet` and
`read_verl_parquet`; the row functions work on plain dicts without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from synthagent.integrations.synthagent_release import (
    import_record,
    release_messages,
    release_rubrics,
    release_tool,
)
from synthagent.spec.io import FormatError
from synthagent.spec.models import Task

DATA_SOURCE = "synthagent"
ABILITY = "agent"
INTERACTION_NAME = "synthagent_user"
INSTALL_HINT = "writing or reading verl parquet files needs pyarrow: pip install 'synthagent[verl]'"


def task_to_verl_row(
    task: Task,
    index: int = 0,
    *,
    split: str = "train",
    data_source: str = DATA_SOURCE,
    embed_task: bool = True,
) -> dict[str, Any]:
    """One Task → one verl row (a plain dict, ready for `pyarrow.Table.from_pylist`)."""
    release_id = task.metadata.get("release_id", task.id)
    return {
        "data_source": data_source,
        "prompt": release_messages(task),
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": task.rubric.model_dump_json()},
        "extra_info": {
            "index": index,
            "split": split,
            "task_id": task.id,
            "release_id": str(release_id),
            "tools": json.dumps([release_tool(spec) for spec in task.tools]),
            "task_background": task.user_background,
            "rubrics": release_rubrics(task),
            "interaction_kwargs": {"name": INTERACTION_NAME, "task_background": task.user_background},
            "task": task.model_dump_json() if embed_task else "",
        },
    }


def tasks_to_verl_rows(tasks: Iterable[Task], **options: Any) -> list[dict[str, Any]]:
    return [task_to_verl_row(task, index, **options) for index, task in enumerate(tasks)]


def _extra_info(row: Any, path: str | os.PathLike[str], number: int) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise FormatError(path, number, None, f"expected a row object, got {type(row).__name__}")
    extra = row.get("extra_info")
    if not isinstance(extra, dict):
        raise FormatError(path, number, "extra_info", "missing or not an object")
    return extra


def _embedded(text: str, row: dict[str, Any], path: str | os.PathLike[str], number: int) -> Task:
    try:
        task = Task.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        raise FormatError(path, number, "extra_info.task", first.get("msg", "invalid Task JSON")) from None
    if release_messages(task) != row.get("prompt"):
        raise FormatError(path, number, "prompt", "does not match the embedded task (edit one, not both)")
    return task


def verl_row_to_task(row: Any, path: str | os.PathLike[str] = "<rows>", index: int = 0) -> Task:
    """One verl row → Task. Errors name the row as index + 1."""
    number = index + 1
    extra = _extra_info(row, path, number)
    embedded = extra.get("task")
    if isinstance(embedded, str) and embedded:
        return _embedded(embedded, row, path, number)
    record = {
        "id": extra.get("release_id") or extra.get("task_id"),
        "prompt": row.get("prompt"),
        "task_background": extra.get("task_background"),
        "rubrics": extra.get("rubrics"),
    }
    return import_record(record, path, index)


def rows_to_tasks(rows: Iterable[Any], path: str | os.PathLike[str] = "<rows>") -> list[Task]:
    return [verl_row_to_task(row, path, index) for index, row in enumerate(rows)]


# ---------------------------------------------------------------------------------------------- parquet


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return pyarrow, pyarrow.parquet


def _schema(pa: Any) -> Any:
    """Spelled out rather than inferred, so every file has the same column types whatever its rows."""
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(message)),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("index", pa.int64()),
                        ("split", pa.string()),
                        ("task_id", pa.string()),
                        ("release_id", pa.string()),
                        ("tools", pa.string()),
                        ("task_background", pa.string()),
                        ("rubrics", pa.string()),
                        ("interaction_kwargs", pa.struct([("name", pa.string()), ("task_background", pa.string())])),
                        ("task", pa.string()),
                    ]
                ),
            ),
        ]
    )


def write_verl_parquet(tasks: Iterable[Task], path: str | os.PathLike[str], **options: Any) -> int:
    """Write tasks as a verl RL parquet file; `options` go to `task_to_verl_row`. Returns the row count."""
    pa, pq = _pyarrow()
    rows = tasks_to_verl_rows(tasks, **options)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema(pa)), p)
    return len(rows)


def read_verl_parquet(path: str | os.PathLike[str]) -> list[Task]:
    """Read a verl RL parquet file written by `write_verl_parquet` (or shaped like it) into Tasks."""
    _, pq = _pyarrow()
    return rows_to_tasks(pq.read_table(Path(path)).to_pylist(), path)
