"""`synthagent export --format verl --layout authors`: rows the SynthAgent authors' verl fork reads.

The layout below is what their data-processing script (`RL/my_script/data_process` in their repository)
writes and what their code reads: the agent loop is chosen by `agent_name`; their mock tool's `create`
reads `tools_kwargs.mock_tool.create_kwargs` (`tool_call_history_path`, `index_id` — joined into a path,
so text —, `tool_description`, `task_background`); their reward function reads `extra_info.question` and
`extra_info.rubrics`.
"""

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthagent.cli import app
from synthagent.integrations.release_verl import read_verl_parquet, tasks_to_verl_rows
from synthagent.integrations.synthagent_release import import_release
from synthagent.spec.io import write_jsonl

pq = pytest.importorskip("pyarrow.parquet", reason="parquet needs pyarrow (part of the test install)")

RELEASE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"
AUTHORS_COLUMNS = {"data_source", "agent_name", "prompt", "ability", "reward_model", "extra_info"}
AUTHORS_EXTRA = {"split", "index", "question", "rubrics", "need_tools_kwargs", "tools_kwargs", "interaction_kwargs"}
AUTHORS_CREATE = {"tool_call_history_path", "index_id", "tool_description", "task_background"}


def _export(tmp_path, *layout):
    tasks = import_release(RELEASE)
    path, out = tmp_path / "tasks.jsonl", tmp_path / "rows.parquet"
    write_jsonl(path, tasks)
    r = CliRunner().invoke(app, ["export", "--format", "verl", "--tasks", str(path), "--out", str(out), "--split", "test",
                                 "--mock-store", "tmp/solve_tool_use", *layout])
    assert r.exit_code == 0, r.output
    return tasks, out


def test_authors_layout_has_the_columns_their_fork_reads(tmp_path):
    tasks, out = _export(tmp_path, "--layout", "authors")
    rows = pq.read_table(out).to_pylist()
    records = json.loads(RELEASE.read_text())
    assert len(rows) == len(tasks) == len(records)
    for row, record in zip(rows, records):
        assert set(row) == AUTHORS_COLUMNS
        assert row["agent_name"] == row["data_source"] == "my_tool_agent_with_user"
        assert row["ability"] is None and row["reward_model"] == {"style": "rule", "ground_truth": "None"}
        extra = row["extra_info"]
        assert set(extra) == AUTHORS_EXTRA and extra["need_tools_kwargs"] is True and extra["split"] == "test"
        assert extra["index"] == record["id"] and extra["rubrics"] == record["rubrics"]
        # the prompt is the release prompt; the user turn ends with Qwen3's non-thinking switch, the question without it
        system, user = row["prompt"]
        assert system == record["prompt"][0] and extra["question"] == record["prompt"][1]["content"]
        assert user["content"] == extra["question"] + "\n/no_think"
        assert extra["interaction_kwargs"] == {"query": extra["question"]}
        create = extra["tools_kwargs"]["mock_tool"]["create_kwargs"]
        assert set(create) == AUTHORS_CREATE and create["index_id"] == record["id"]
        assert create["task_background"] == record["task_background"]
        assert create["tool_call_history_path"] == "tmp/solve_tool_use"
        assert os.path.join(create["tool_call_history_path"], create["index_id"], "tool_call_history.json")
        blocks = re.findall(r"<tools>(.*?)</tools>", system["content"], re.DOTALL)
        assert create["tool_description"] == blocks[-1].strip() and create["tool_description"]


def test_authors_rows_read_back_into_the_same_tasks_and_our_layout_stays_the_default(tmp_path):
    tasks, out = _export(tmp_path, "--layout", "authors")
    back = read_verl_parquet(out)
    assert [t.id for t in back] == [t.id for t in tasks]
    assert [t.rubric for t in back] == [t.rubric for t in tasks]
    assert [t.user_background for t in back] == [t.user_background for t in tasks]
    _, ours = _export(tmp_path)
    row = pq.read_table(ours).to_pylist()[0]
    assert "agent_name" not in row and row["extra_info"]["task"]  # ours: the Task embedded, for our agent loop
    assert tasks_to_verl_rows(tasks[:1], layout="authors")[0]["extra_info"]["index"] == tasks[0].metadata["release_id"]


def test_unknown_layout_is_a_clear_error(tmp_path):
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, import_release(RELEASE)[:1])
    r = CliRunner().invoke(app, ["export", "--format", "verl", "--tasks", str(path), "--out", str(tmp_path / "x.parquet"),
                                 "--layout", "theirs"])
    assert r.exit_code != 0 and "--layout" in r.output and not (tmp_path / "x.parquet").exists()
