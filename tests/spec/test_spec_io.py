import json

import pytest

from synthagent.spec import FormatError, JsonlAppender, Task, Trajectory, read_jsonl, write_jsonl
from synthagent.spec.io import iter_jsonl
from synthagent.spec.schema import schema_texts

from testkit import make_task


def test_task_roundtrip_and_content_id(tmp_path):
    task = make_task()
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [task])
    (back,) = read_jsonl(path, Task)
    assert back == task
    assert back.content_id() == task.id
    changed = back.model_copy(update={"instruction": back.instruction + "!"})
    assert changed.content_id() != task.id


def test_invalid_json_names_file_and_line(tmp_path):
    task = make_task()
    path = tmp_path / "t.jsonl"
    path.write_text(task.model_dump_json() + "\n{not json\n")
    with pytest.raises(FormatError) as err:
        read_jsonl(path, Task)
    assert err.value.line == 2 and str(path) in str(err.value) and "invalid JSON" in str(err.value)


def test_wrong_field_type_names_field(tmp_path):
    data = make_task().model_dump(mode="json")
    data["difficulty"] = "hard"
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(data) + "\n")
    with pytest.raises(FormatError) as err:
        read_jsonl(path, Task)
    assert err.value.field == "difficulty" and err.value.line == 1


def test_unknown_field_is_rejected(tmp_path):
    data = make_task().model_dump(mode="json")
    data["instrcution"] = "typo"
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(data) + "\n")
    with pytest.raises(FormatError, match="instrcution"):
        read_jsonl(path, Task)


def test_non_object_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(FormatError, match="expected a JSON object"):
        read_jsonl(path, Task)


def test_truncated_tail_tolerated_only_when_asked(tmp_path):
    a, b = make_task(seed=1), make_task(seed=2)
    path = tmp_path / "t.jsonl"
    path.write_text(a.model_dump_json() + "\n" + b.model_dump_json()[:50])
    with pytest.raises(FormatError):
        read_jsonl(path, Task)
    assert [t.id for t in iter_jsonl(path, Task, tolerate_truncated_tail=True)] == [a.id]


def test_appender_repairs_truncated_tail_without_losing_records(tmp_path):
    a, b, c = (make_task(seed=s) for s in (1, 2, 3))
    path = tmp_path / "t.jsonl"
    path.write_text(a.model_dump_json() + "\n" + b.model_dump_json()[:80])
    with JsonlAppender(path) as out:
        out.write(c)
    assert [t.id for t in read_jsonl(path, Task)] == [a.id, c.id]


def test_schema_files_in_repo_are_current():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "schemas"
    for name, text in schema_texts().items():
        assert (root / name).read_text() == text, f"schemas/{name} is stale: run `synthagent schema`"


def test_trajectory_key():
    t = Trajectory(task_id="x", policy="p", sample=3, messages=[], termination="answer")
    assert t.key == ("x", "p", 3)


def test_agent_tools_follow_the_tool_list():
    task = make_task()
    assert task.agent_tools() == [t.openai() for t in task.tools]
    assert task.agent_tools() is task.agent_tools()
    fewer = task.model_copy(update={"tools": task.tools[:1]})
    assert fewer.agent_tools() == [task.tools[0].openai()]
