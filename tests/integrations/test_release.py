"""The original SynthAgent release format: rubric markdown, record import/export, verl rows.

The expected counts below were read off the fixture by eye (tests/integrations/data, a copy of the
five sample records of the authors' release): every record's policy section has two sub-headings
(1a direct violations, 1b missing interaction); record 0 has its sub-goals and interactions as tables,
the others as numbered lists with indented detail bullets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from synthagent.integrations.release_verl import (
    INSTALL_HINT,
    read_verl_parquet,
    rows_to_tasks,
    task_to_verl_row,
    tasks_to_verl_rows,
    verl_row_to_task,
    write_verl_parquet,
)
from synthagent.integrations.rubric_markdown import (
    NONE_MARKER,
    RubricMarkdownError,
    parse_rubric_markdown,
    render_rubric_markdown,
)
from synthagent.integrations.synthagent_release import (
    STANDARD_REQUIREMENTS,
    export_record,
    export_release,
    import_record,
    import_release,
    write_release,
)
from synthagent.spec.io import FormatError
from synthagent.spec.models import FunctionDef, Rubric, RubricItem, Task, ToolSpec

FIXTURE = Path(__file__).parent / "data" / "synthagent_release_sample.json"

RECORDER = ["FieldNote Recorder", "AudioWave Analyzer", "Print Job Dispatcher", "Observation Validator"]
# (release id prefix, tool names, policy rules, forbidden, sub-goals, interactions)
EXPECTED = [
    ("001f9c91", ["SportsStatsAPI", "FanSentimentTracker", "HighlightReelAccessor"], 1, 2, 7, 4),
    ("00212448", ["MedicalBillingResearcher", "BillingCodeDecoder", "DisputeTimelineGenerator"], 1, 2, 7, 6),
    (
        "0043ab10",
        ["ArchivePulse_Search", "IllustrationForge_Create", "TestimonyVault_Retrieve", "ScriptureMapper_Analyze"],
        1,
        2,
        7,
        6,
    ),
    ("005504b9", ["LitScanAI", "CaseMiner", "EthicsAdvisor"], 1, 2, 5, 5),
    ("0055fbe4", RECORDER, 1, 2, 5, 5),
]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return import_release(FIXTURE)


def first_lines(items: list[RubricItem]) -> list[str]:
    return [item.criterion.split("\n")[0] for item in items]


# ------------------------------------------------------------------------------------ fixture: import


def test_every_record_imports_with_expected_counts(tasks: list[Task]) -> None:
    assert len(tasks) == len(EXPECTED)
    for task, (rid, tools, rules, forbidden, subgoals, interactions) in zip(tasks, EXPECTED, strict=True):
        assert str(task.metadata["release_id"]).startswith(rid)
        assert [t.name for t in task.tools] == tools
        assert len(task.policy) == rules
        assert (len(task.rubric.forbidden), len(task.rubric.subgoals), len(task.rubric.interactions)) == (
            forbidden,
            subgoals,
            interactions,
        )
        assert task.domain == "synthagent-release"
        assert task.source.generator == "synthagent-release"
        assert task.id == task.content_id()
        assert all(t.kind == "read" and t.returns for t in task.tools)
        assert all(item.check is None for _, items in task.rubric.sections() for item in items)


def test_ids_are_positional_per_section(tasks: list[Task]) -> None:
    rubric = tasks[1].rubric
    assert [i.id for i in rubric.forbidden] == ["forbidden-1", "forbidden-2"]
    assert [i.id for i in rubric.subgoals] == [f"subgoal-{n}" for n in range(1, 8)]
    assert [i.id for i in rubric.interactions] == [f"interaction-{n}" for n in range(1, 7)]


def test_policy_instruction_background(tasks: list[Task], records: list[dict]) -> None:
    first = tasks[0]
    assert first.policy[0].startswith("Tool NarrativeGenerator must NOT be used to interpret")
    assert first.policy[0].endswith("Violating this restriction will result in task failure.")
    assert first.instruction.startswith("Create a compelling pre-game commentary script")
    assert first.instruction.endswith("shift in playing style.")  # one of the record's two periods
    assert first.user_background == records[0]["task_background"]
    assert tasks[3].policy[0].endswith("external legal databases are off-limits to this tool.")


def test_tool_specs(tasks: list[Task]) -> None:
    stats = tasks[0].tool("SportsStatsAPI")
    assert stats is not None
    assert stats.function.parameters["required"] == ["player_name", "team", "stat_type"]
    assert stats.returns["required"] == ["average_stats", "games"]
    assert "clutch_time" in stats.returns["properties"]["games"]["items"]["properties"]
    recorder = tasks[4].tool("FieldNote Recorder")
    assert recorder is not None and "record_id" in recorder.returns["properties"]


def test_table_rows_spot_check(tasks: list[Task]) -> None:
    rubric = tasks[0].rubric
    assert rubric.subgoals[0].criterion == (
        "Sub-goal: Identify the lead guard — Requirement: Determine who the current lead guard of the "
        "Portland Trail Blazers is, given roster changes. — Completion Criteria: ✅ Fully completed if agent "
        "confirms with user or uses reliable source with justification. ❌ Not completed if assumed."
    )
    assert rubric.subgoals[6].criterion.startswith("Sub-goal: Generate final script — Requirement: Weave")
    assert rubric.interactions[3].criterion == (
        'Information Needed: Timeframe for "latest data" — What Agent Must Ask: "Do you want the last 5, 10, '
        'or 15 games for comparison?" — Sufficiency Criteria: ✅ If agent confirms or uses standard (e.g., 10) '
        "with note. — Premature Action Indicators: Using unconfirmed values."
    )


def test_list_items_spot_check(tasks: list[Task]) -> None:
    billing = tasks[1].rubric
    assert first_lines(billing.subgoals)[-1] == "Act on timeline implications"
    assert billing.subgoals[5].criterion == (
        "Draft a personalized, effective dispute email\n"
        "- Required: Incorporate facts, rights, deadlines, and a respectful tone.\n"
        "- Completion: Fully completed if email includes all available key details and references patient rights.\n"
        "- Partially completed if missing critical elements (e.g., deadline, reason for dispute).\n"
        "- Not completed if generic or robotic."
    )
    assert first_lines(billing.interactions) == [
        "Type of billing issue",
        "State of service",
        "Date of service",
        "Medical billing code(s)",
        "Reason for denial (if insurance denial)",
        "Insurance plan type",
    ]
    legal = tasks[3].rubric
    assert "  - Partially: Mentions one or two biases without depth or citation." in legal.subgoals[0].criterion
    assert first_lines(tasks[2].rubric.interactions)[-1] == "Demographics for testimony"
    assert first_lines(tasks[4].rubric.subgoals)[2] == "Perform Local Audio Analysis (if applicable)"


def test_policy_sub_headings_spot_check(tasks: list[Task]) -> None:
    for task in tasks:
        assert first_lines(task.rubric.forbidden) == [
            "Direct Policy Violations",
            "Missing User Interaction Before Tool Use",
        ]
    legal = tasks[3].rubric.forbidden[0].criterion
    assert legal.count("→ violation.") == 4  # all four nested criteria stay with their item
    assert "---" not in tasks[0].rubric.forbidden[1].criterion  # the section rule is not content


# ------------------------------------------------------------------------------- fixture: round trips


def test_export_reproduces_records_exactly(tasks: list[Task], records: list[dict]) -> None:
    assert export_release(tasks) == records


def test_write_release_is_byte_identical(tasks: list[Task], tmp_path: Path) -> None:
    out = tmp_path / "release.json"
    assert write_release(tasks, out) == len(tasks)
    assert out.read_bytes() == FIXTURE.read_bytes()


def test_import_export_import_is_equal(tasks: list[Task]) -> None:
    for index, task in enumerate(tasks):
        assert import_record(export_record(task), "<roundtrip>", index) == task


def test_prompt_is_rendered_from_typed_fields_not_stored(tasks: list[Task]) -> None:
    """Only the rubric markdown (model-written layout) needs a verbatim copy; the prompt is templated."""
    for task in tasks:
        assert set(task.metadata) == {"release_id", "release_verbatim"}
        assert set(task.metadata["release_verbatim"]) == {"rubrics"}


def test_rendered_rubric_round_trip_without_verbatim(tasks: list[Task]) -> None:
    """Drop the verbatim markdown: export renders the rubric, and re-import gives the same task."""
    for task in tasks:
        bare = task.model_copy(update={"metadata": {"release_id": task.metadata["release_id"]}})
        record = export_record(bare)
        assert record["rubrics"] == render_rubric_markdown(task.rubric)
        again = import_record(record)
        assert again.rubric == task.rubric
        assert again.model_copy(update={"id": ""}) == bare.model_copy(update={"id": ""})


def test_fixture_rubrics_render_parse_equal(records: list[dict]) -> None:
    for record in records:
        rubric = parse_rubric_markdown(record["rubrics"], strict=True)
        assert parse_rubric_markdown(render_rubric_markdown(rubric), strict=True) == rubric


def test_edited_task_exports_from_typed_fields(tasks: list[Task]) -> None:
    task = tasks[1].model_copy(deep=True)
    task.instruction = "Dispute my bill."
    task.rubric.subgoals = task.rubric.subgoals[:2]
    record = export_record(task)
    assert record["prompt"][1]["content"] == "Task Description: Dispute my bill.." + STANDARD_REQUIREMENTS
    assert record["prompt"][0] == export_record(tasks[1])["prompt"][0]
    again = import_record(record)
    assert again.instruction == "Dispute my bill."
    assert again.rubric == task.rubric


def test_native_task_exports_and_reimports() -> None:
    native = Task(
        domain="retail",
        instruction="Return my last order.",
        tools=[
            ToolSpec(
                function=FunctionDef(name="get_order", description="Look up an order."),
                returns={"type": "object", "properties": {"status": {"type": "string"}}},
            ),
            ToolSpec(function=FunctionDef(name="return_order", description="Start a return."), kind="write"),
        ],
        policy=["Never return an order without confirmation.", "Verify the user first."],
        user_background="Order #42, bought last week.",
        rubric=Rubric(
            forbidden=[RubricItem(id="forbidden-1", criterion="Returning without confirmation.")],
            subgoals=[RubricItem(id="subgoal-1", criterion="Return order #42\n- via return_order")],
        ),
    ).with_id()
    record = export_record(native)
    assert record["id"] == native.id and record["domain"] == "retail"
    assert record["prompt"][0]["content"].startswith(
        "<policy>Never return an order without confirmation.\nVerify the user first.</policy>\n# Tools"
    )
    assert NONE_MARKER in record["rubrics"]
    back = import_record(record)
    assert (back.domain, back.instruction, back.policy, back.user_background) == (
        native.domain,
        native.instruction,
        native.policy,
        native.user_background,
    )
    assert back.rubric == native.rubric
    assert [(t.function, t.returns) for t in back.tools] == [(t.function, t.returns) for t in native.tools]
    assert "release_verbatim" not in back.metadata  # our own output is already in canonical form


def test_extra_keys_survive(records: list[dict]) -> None:
    record = dict(records[2], split="train", domain="faith")
    task = import_record(record)
    assert task.domain == "faith" and task.metadata["release_extra"] == {"split": "train"}
    assert export_record(task) == record


def test_jsonl_release(tasks: list[Task], tmp_path: Path) -> None:
    out = tmp_path / "release.jsonl"
    write_release(tasks, out)
    assert import_release(out) == tasks


# ---------------------------------------------------------------------------------- malformed records


def error_of(record: object, index: int = 2) -> FormatError:
    with pytest.raises(FormatError) as caught:
        import_record(record, "release.json", index)
    assert caught.value.line == index + 1
    return caught.value


def with_system(record: dict, content: str) -> dict:
    return dict(record, prompt=[{"role": "system", "content": content}, record["prompt"][1]])


def test_file_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"id": "x"}', encoding="utf-8")
    with pytest.raises(FormatError, match="expected a JSON list"):
        import_release(path)


def test_file_invalid_json_names_text_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n {"id": "x"},\n {oops}\n]', encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        import_release(path)
    assert caught.value.line == 3


def test_bad_record_in_file_names_record_number(records: list[dict], tmp_path: Path) -> None:
    broken = [records[0], {k: v for k, v in records[1].items() if k != "prompt"}]
    path = tmp_path / "release.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        import_release(path)
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), 2, "prompt")
    assert f"{path}:2: field 'prompt'" in str(caught.value)


def test_record_not_an_object() -> None:
    assert error_of(["not", "a", "record"]).field == "<record>"


def test_missing_prompt(records: list[dict]) -> None:
    assert error_of({k: v for k, v in records[0].items() if k != "prompt"}).field == "prompt"


def test_missing_id_and_background(records: list[dict]) -> None:
    assert error_of({k: v for k, v in records[0].items() if k != "id"}).field == "id"
    assert error_of({k: v for k, v in records[0].items() if k != "task_background"}).field == "task_background"


def test_wrong_roles(records: list[dict]) -> None:
    swapped = dict(records[0], prompt=list(reversed(records[0]["prompt"])))
    assert error_of(swapped).field == "prompt[0]"


def test_no_tools_block(records: list[dict]) -> None:
    system = records[0]["prompt"][0]["content"]
    cut = system.split("\n<tools>\n")[0]
    err = error_of(with_system(records[0], cut))
    assert err.field == "prompt[0].content" and "<tools>" in err.reason


def test_tool_line_not_json(records: list[dict]) -> None:
    second_tool = '{"type": "function", "function": {"name": "FanSentiment'
    system = records[0]["prompt"][0]["content"].replace(second_tool, "{oops", 1)
    err = error_of(with_system(records[0], system))
    assert err.field == "prompt[0].content <tools> line 2"
    assert "not a JSON function" in err.reason


def test_tool_line_without_name(records: list[dict]) -> None:
    system = records[0]["prompt"][0]["content"].replace('"name": "SportsStatsAPI", ', "", 1)
    err = error_of(with_system(records[0], system))
    assert err.field == "prompt[0].content <tools> line 1" and "name" in err.reason


def test_user_message_without_task_description(records: list[dict]) -> None:
    record = dict(records[0], prompt=[records[0]["prompt"][0], {"role": "user", "content": "Hi there"}])
    assert error_of(record).field == "prompt[1].content"


def test_missing_rubric_sections(records: list[dict]) -> None:
    markdown = records[1]["rubrics"].split("### 3. Required User Interaction")[0]
    err = error_of(dict(records[1], rubrics=markdown))
    assert err.field == "rubrics" and "Required User Interaction" in err.reason
    err = error_of(dict(records[1], rubrics="Nothing useful here."))
    assert err.field == "rubrics" and "Policy Compliance Criteria" in err.reason


def test_rubric_section_without_items(records: list[dict]) -> None:
    markdown = records[1]["rubrics"].split("### 3. Required User Interaction")[0] + "### 3. Required User Interaction\n"
    err = error_of(dict(records[1], rubrics=markdown))
    assert "no items" in err.reason


# ------------------------------------------------------------------------- hand-written rubric layouts


def rubric_of(*, policy: str, subgoals: str, interactions: str) -> Rubric:
    markdown = (
        f"## Policy Compliance Criteria\n{policy}\n\n## Task Sub-goals\n{subgoals}\n\n"
        f"## Required User Interaction\n{interactions}\n"
    )
    rubric = parse_rubric_markdown(markdown, strict=True)
    assert parse_rubric_markdown(render_rubric_markdown(rubric), strict=True) == rubric
    return rubric


def test_table_layout() -> None:
    rubric = rubric_of(
        policy="| # | Forbidden behaviour |\n|---|---|\n| 1 | **Calling `refund` twice** |\n| 2 | Guessing the id |",
        subgoals=(
            "| Sub-goal | Completion criteria |\n| :-- | --: |\n| **Find order** | `get_order` called |\n"
            "| Refund | amount \\| currency given |\n"
        ),
        interactions="|Ask|Why|\n|-|-|\n|Order id|needed before lookup|",
    )
    assert [i.criterion for i in rubric.forbidden] == [
        "Forbidden behaviour: Calling `refund` twice",
        "Forbidden behaviour: Guessing the id",
    ]
    assert [i.criterion for i in rubric.subgoals] == [
        "Sub-goal: Find order — Completion criteria: `get_order` called",
        "Sub-goal: Refund — Completion criteria: amount | currency given",
    ]
    assert rubric.interactions[0].criterion == "Ask: Order id — Why: needed before lookup"


def test_numbered_list_layout_with_blank_lines_and_unindented_details() -> None:
    rubric = rubric_of(
        policy="1. Never refund without confirmation.\n2) Never share other customers' data.",
        subgoals=(
            "The agent must:\n\n1. **Look up the order**\n- Required: `get_order`\n- Completion: status known\n\n"
            "2. **Refund it**\n   - Required: `refund`\n\n\n3. Tell the user"
        ),
        interactions="1. **Order id**: ask before any lookup",
    )
    assert [i.criterion for i in rubric.forbidden] == [
        "Never refund without confirmation.",
        "Never share other customers' data.",
    ]
    assert [i.criterion for i in rubric.subgoals] == [
        "Look up the order\n- Required: `get_order`\n- Completion: status known",
        "Refund it\n- Required: `refund`",
        "Tell the user",
    ]
    assert rubric.interactions[0].criterion == "Order id: ask before any lookup"


def test_sub_heading_layout() -> None:
    rubric = rubric_of(
        policy="### 1a. **Direct violations**\n- Refunding twice\n\n### 1b. Missing interaction\nActing on guesses.",
        subgoals="#### Sub-goal 1: Find the order\nDetails.\n##### Note\nDeeper heading stays inside.\n#### Refund",
        interactions="### Order id\n### Reason for return",
    )
    assert [i.criterion for i in rubric.forbidden] == [
        "Direct violations\n- Refunding twice",
        "Missing interaction\nActing on guesses.",
    ]
    assert [i.criterion for i in rubric.subgoals] == [
        "Sub-goal 1: Find the order\nDetails.\n##### Note\nDeeper heading stays inside.",
        "Refund",
    ]
    assert len(rubric.interactions) == 2


def test_bullet_layout() -> None:
    rubric = rubric_of(
        policy="- Refunding without confirmation\n* Sharing data\n+ Guessing ids",
        subgoals="- **Find the order**\n  - with `get_order`\n- **Refund**",
        interactions="- Ask for the order id",
    )
    assert len(rubric.forbidden) == 3
    assert [i.criterion for i in rubric.subgoals] == ["Find the order\n- with `get_order`", "Refund"]


def test_bold_label_and_paragraph_layouts() -> None:
    rubric = rubric_of(
        policy="**1. Refunding twice**\nNever.\n\n**2. Guessing**\n- ids\n- amounts",
        subgoals="**Sub-goal 1:** Find the order.\n**Sub-goal 2:** Refund it.",
        interactions="Ask for the order id before the lookup.\n\nAsk for the reason.",
    )
    assert [i.criterion for i in rubric.forbidden] == ["Refunding twice\nNever.", "Guessing\n- ids\n- amounts"]
    assert [i.criterion for i in rubric.subgoals] == ["Sub-goal 1: Find the order.", "Sub-goal 2: Refund it."]
    assert len(rubric.interactions) == 2


def test_section_heading_variants_whitespace_and_extras() -> None:
    markdown = (
        "# Rubric for task 17\r\n\r\nIntro text.\r\n"
        "**I. Policy Compliance Criteria (forbidden behaviours):**\r\n\t- Refund twice   \r\n"
        "## Section 2: Task Sub-goals and Completion Criteria\r\n\r\n1.   Find order\r\n\r\n\r\n"
        "## 3) REQUIRED USER INTERACTIONS\r\n- Order id\r\n---\r\n"
        "## 4. Scoring notes\r\n- Not an item\r\n"
    )
    rubric = parse_rubric_markdown(markdown, strict=True)
    assert [i.criterion for i in rubric.forbidden] == ["Refund twice"]
    assert [i.criterion for i in rubric.subgoals] == ["Find order"]
    assert [i.criterion for i in rubric.interactions] == ["Order id"]


def test_items_as_sibling_headings_of_the_section() -> None:
    markdown = (
        "## Policy Compliance Criteria\n\n## 1a. Direct violations\n- refunds\n## 1b. Missing interaction\n"
        "## Task Sub-goals\n1. Find\n## Extra notes\n- not an item\n"
        "## Required User Interaction\n- Ask\n# Appendix\n## Not an item either\n"
    )
    rubric = parse_rubric_markdown(markdown, strict=True)
    assert [i.criterion for i in rubric.forbidden] == ["Direct violations\n- refunds", "Missing interaction"]
    assert [i.criterion for i in rubric.subgoals] == ["Find"]
    assert [i.criterion for i in rubric.interactions] == ["Ask"]


def test_item_named_like_a_section_does_not_open_one() -> None:
    markdown = (
        "### Task Sub-goals\n1. **User interaction**\n2. Sub-goal 2: finish\n"
        "### Policy Compliance Criteria\n- none of that\n### Required User Interaction\n- ask"
    )
    rubric = parse_rubric_markdown(markdown, strict=True)
    assert [i.criterion for i in rubric.subgoals] == ["User interaction", "Sub-goal 2: finish"]


def test_missing_and_empty_sections() -> None:
    assert parse_rubric_markdown("### Task Sub-goals\n1. Do it") == Rubric(
        subgoals=[RubricItem(id="subgoal-1", criterion="Do it")]
    )
    with pytest.raises(RubricMarkdownError, match="Policy Compliance Criteria, Required User Interaction"):
        parse_rubric_markdown("### Task Sub-goals\n1. Do it", strict=True)
    empty = (
        "### Policy Compliance Criteria\nNone.\n### Task Sub-goals\n1. Do it\n### Required User Interaction\n_None._"
    )
    rubric = parse_rubric_markdown(empty, strict=True)
    assert rubric.forbidden == [] and rubric.interactions == [] and len(rubric.subgoals) == 1
    assert parse_rubric_markdown(render_rubric_markdown(rubric), strict=True) == rubric
    assert parse_rubric_markdown("") == Rubric()


# --------------------------------------------------------------------------------------------- verl


def test_verl_row_layout(tasks: list[Task], records: list[dict]) -> None:
    row = task_to_verl_row(tasks[0], 7, split="test")
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["prompt"] == records[0]["prompt"]
    assert row["reward_model"]["style"] == "rule"
    assert Rubric.model_validate_json(row["reward_model"]["ground_truth"]) == tasks[0].rubric
    extra = row["extra_info"]
    assert (extra["index"], extra["split"], extra["release_id"]) == (7, "test", records[0]["id"])
    assert extra["task_background"] == records[0]["task_background"]
    assert extra["rubrics"] == records[0]["rubrics"]
    assert extra["interaction_kwargs"]["task_background"] == records[0]["task_background"]
    system = records[0]["prompt"][0]["content"]
    lines = system.split("<tools>\n")[-1].split("\n\n</tools>")[0].split("\n")
    assert json.loads(extra["tools"]) == [json.loads(line) for line in lines]
    json.dumps(row)  # plain JSON types only


def test_verl_rows_round_trip_with_and_without_embedded_task(tasks: list[Task]) -> None:
    assert rows_to_tasks(tasks_to_verl_rows(tasks)) == tasks
    assert rows_to_tasks(tasks_to_verl_rows(tasks, embed_task=False)) == tasks


def test_verl_row_errors(tasks: list[Task]) -> None:
    row = task_to_verl_row(tasks[0])
    stale = dict(row, prompt=[row["prompt"][0], {"role": "user", "content": "Task Description: other."}])
    with pytest.raises(FormatError) as caught:
        verl_row_to_task(stale, "train.parquet", 4)
    assert (caught.value.line, caught.value.field) == (5, "prompt")
    with pytest.raises(FormatError, match="extra_info"):
        verl_row_to_task({"prompt": row["prompt"]})
    bare = task_to_verl_row(tasks[0], embed_task=False)
    bare["extra_info"]["rubrics"] = "no sections"
    with pytest.raises(FormatError) as caught:
        verl_row_to_task(bare)
    assert caught.value.field == "rubrics"


def test_parquet_without_pyarrow_says_how_to_install(tasks: list[Task], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'synthagent\[verl\]'") as caught:
        write_verl_parquet(tasks, tmp_path / "train.parquet")
    assert str(caught.value) == INSTALL_HINT


def test_parquet_round_trip(tasks: list[Task], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is optional (pip install 'synthagent[verl]')")
    path = tmp_path / "train.parquet"
    assert write_verl_parquet(tasks, path) == len(tasks)
    table = pq.read_table(path)
    assert table.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert read_verl_parquet(path) == tasks
    bare = tmp_path / "bare.parquet"
    write_verl_parquet(tasks, bare, embed_task=False)
    assert read_verl_parquet(bare) == tasks


def test_whitespace_noise_does_not_change_fixture_rubrics(records: list[dict]) -> None:
    for record in records:
        clean = parse_rubric_markdown(record["rubrics"], strict=True)
        noisy = record["rubrics"].replace("\n\n", "\n\n\n").replace("\n", "   \r\n")
        assert parse_rubric_markdown(noisy, strict=True) == clean
