"""Tasks as verl RL data rows, and back, in two layouts: ours (the default) and the authors'.

verl's RL trainer reads a parquet file with one row per prompt. **Our layout** follows verl's own data
preprocessing examples, with the SynthAgent release's prompt, and embeds the whole Task so that our agent
loop and reward function (`integrations.verl`) rebuild it losslessly:

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
                   interaction_kwargs {"name": "synthagent_user", "task_background": …}
                   task             JSON text of the whole Task ("" when not embedded)

The authors' verl fork does **not** read these rows: its agent loop is chosen by an `agent_name` column,
its mock tool is configured through `tools_kwargs`, and its reward function reads `extra_info.question`.
**The authors' layout** (`layout="authors"`, `synthagent export --format verl --layout authors`) writes the
columns their data-processing scripts produce (read from their repository's `RL/my_script/data_process`,
checked column by column in `tests/train/test_verl_authors_layout.py`):

    data_source    "my_tool_agent_with_user"
    agent_name     "my_tool_agent_with_user"      their agent loop (tool calls, user simulator)
    prompt         the release prompt; the user message ends with Qwen3's "/no_think" switch, as theirs does
    ability        null
    reward_model   {"style": "rule", "ground_truth": "None"}
    extra_info     split, index (the release id, text: it names the task's folder),
                   question (the user message without the switch), rubrics (the release markdown),
                   need_tools_kwargs true,
                   tools_kwargs.mock_tool.create_kwargs: tool_call_history_path (the folder of their
                       per-task tool-call history, their M), index_id, tool_description (the text inside
                       the system prompt's <tools> block), task_background,
                   interaction_kwargs {"query": question}

Their scripts also append their own instructions to the prompt; we do not copy those, so a row of ours
is what their fork reads, with the release prompt as the release has it.

Tools and the task travel as JSON text, not nested columns: every task has its own tool schemas, and a
parquet column needs one type for all rows. verl's per-tool `tools_kwargs` is left out of our layout for
the same reason (its keys are tool names); a tool backend finds the specs in `tools`.

`verl_row_to_task` restores the embedded Task when there is one (lossless), after checking that the
row's prompt still matches it; otherwise it reads the row (ours or the authors') like a release record.

Parquet needs `pyarrow`, an optional dependency imported only by `write_verl_parquet` and
`read_verl_parquet`; the row functions work on plain dicts without it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

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
Layout = Literal["ours", "authors"]
LAYOUTS: tuple[str, ...] = ("ours", "authors")
AUTHORS_AGENT = "my_tool_agent_with_user"
AUTHORS_MOCK_TOOL = "mock_tool"
NO_THINK = "\n/no_think"
DEFAULT_HISTORY_PATH = "synthagent-mock-tools"
_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)


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


def tool_description(system: str) -> str:
    """The text of the system prompt's last <tools> block: what the authors' mock tool shows its model."""
    blocks = _TOOLS_BLOCK.findall(system)
    return blocks[-1].strip() if blocks else ""


def task_to_authors_row(task: Task, index: int = 0, *, split: str = "train",
                        tool_call_history_path: str = DEFAULT_HISTORY_PATH) -> dict[str, Any]:
    """One Task → one row of the authors' verl fork (see the module docstring)."""
    system, user = (m["content"] for m in release_messages(task))
    release_id = str(task.metadata.get("release_id", task.id))
    return {
        "data_source": AUTHORS_AGENT,
        "agent_name": AUTHORS_AGENT,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user + NO_THINK}],
        "ability": None,
        "reward_model": {"style": "rule", "ground_truth": "None"},
        "extra_info": {
            "split": split,
            "index": release_id,
            "question": user,
            "rubrics": release_rubrics(task),
            "need_tools_kwargs": True,
            "tools_kwargs": {AUTHORS_MOCK_TOOL: {"create_kwargs": {
                "tool_call_history_path": tool_call_history_path,
                "index_id": release_id,
                "tool_description": tool_description(system),
                "task_background": task.user_background,
            }}},
            "interaction_kwargs": {"query": user},
        },
    }


def tasks_to_verl_rows(tasks: Iterable[Task], *, layout: Layout = "ours", **options: Any) -> list[dict[str, Any]]:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    make = task_to_authors_row if layout == "authors" else task_to_verl_row
    return [make(task, index, **options) for index, task in enumerate(tasks)]


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
    if isinstance(extra.get("tools_kwargs"), dict):
        return _authors_row_to_task(row, extra, path, index)
    record = {
        "id": extra.get("release_id") or extra.get("task_id"),
        "prompt": row.get("prompt"),
        "task_background": extra.get("task_background"),
        "rubrics": extra.get("rubrics"),
    }
    return import_record(record, path, index)


def _authors_row_to_task(row: dict[str, Any], extra: dict[str, Any], path: str | os.PathLike[str], index: int) -> Task:
    create = ((extra["tools_kwargs"].get(AUTHORS_MOCK_TOOL) or {}).get("create_kwargs") or {})
    prompt = row.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 2 and isinstance(prompt[1], dict):
        user = prompt[1].get("content")
        if isinstance(user, str):
            prompt = [prompt[0], {**prompt[1], "content": user.removesuffix(NO_THINK)}]
    record = {"id": extra.get("index"), "prompt": prompt, "task_background": create.get("task_background"),
              "rubrics": extra.get("rubrics")}
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


def _authors_schema(pa: Any) -> Any:
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    create = pa.struct([("tool_call_history_path", pa.string()), ("index_id", pa.string()),
                        ("tool_description", pa.string()), ("task_background", pa.string())])
    extra = pa.struct([
        ("split", pa.string()), ("index", pa.string()), ("question", pa.string()), ("rubrics", pa.string()),
        ("need_tools_kwargs", pa.bool_()),
        ("tools_kwargs", pa.struct([(AUTHORS_MOCK_TOOL, pa.struct([("create_kwargs", create)]))])),
        ("interaction_kwargs", pa.struct([("query", pa.string())])),
    ])
    return pa.schema([("data_source", pa.string()), ("agent_name", pa.string()), ("prompt", pa.list_(message)),
                      ("ability", pa.string()), ("reward_model", pa.struct([("style", pa.string()),
                                                                            ("ground_truth", pa.string())])),
                      ("extra_info", extra)])


def write_verl_parquet(tasks: Iterable[Task], path: str | os.PathLike[str], *, layout: Layout = "ours",
                       **options: Any) -> int:
    """Write tasks as a verl RL parquet file in `layout`; `options` go to the row function. Returns the
    row count. Rows are built before the file is opened, so a bad task leaves an existing file intact."""
    pa, pq = _pyarrow()
    rows = tasks_to_verl_rows(tasks, layout=layout, **options)
    schema = _authors_schema(pa) if layout == "authors" else _schema(pa)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), p)
    return len(rows)


def read_verl_parquet(path: str | os.PathLike[str]) -> list[Task]:
    """Read a verl RL parquet file written by `write_verl_parquet` (or shaped like it) into Tasks."""
    _, pq = _pyarrow()
    return rows_to_tasks(pq.read_table(Path(path)).to_pylist(), path)
