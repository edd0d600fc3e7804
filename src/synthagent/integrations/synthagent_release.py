"""Import and export of the original SynthAgent release: the authors' training records, as a JSON list.

A record (as published with arXiv 2601.22511):

    id               a UUID string
    prompt           [system, user] chat messages
      system         "<policy>RULES</policy>" + a Hermes-style tools preamble + "<tools>\\n" + one JSON
                     function per line ({"type": "function", "function": {name, description, parameters,
                     outputs}}) + "\\n</tools>" + the <tool_call> instructions
      user           "Task Description: INSTRUCTION." + "\\n\\n### Requirements:\\n1. …" (fixed agent rules)
    task_background  the hidden user background, which only the simulated user sees
    rubrics          markdown in three sections, parsed by `rubric_markdown`

Mapping to `Task`: policy text → `policy` (one rule per non-blank line; the authors' policy is a single
restriction paragraph, so one rule), tools → `ToolSpec` (`outputs` → `returns`; `kind` is "read" for
every tool, because the release does not say which tools change the world), the task description →
`instruction`, `task_background` → `user_background`, `rubrics` → `Rubric`, `id` →
`metadata["release_id"]`, `source.generator` = "synthagent-release", `domain` = a record's `domain` key
or "synthagent-release". Other keys of a record are kept in `metadata["release_extra"]`.

Exactness. Export writes an imported record back byte for byte. The typed fields are rendered through
the release's fixed templates; where a record deviates from them (always so for the rubric markdown,
whose layout is model output) the original text is kept in `metadata["release_verbatim"]` and written
back as long as it still reads as the task's current content; edit the task and that piece is rendered
from the typed fields instead. A non-standard requirements suffix is kept in
`metadata["release_requirements"]`. Export of a task that did not come from the release is lossy: the
format has no place for the private ledger, gold actions, world, tool kinds or compiled checks.

Errors raise `FormatError(path, n, field, reason)`. Here n, FormatError's "line", is the 1-based RECORD
number in the list; only for a file that is not valid JSON is it the text line of the syntax error. In
a .jsonl file the two coincide. Given `on_reject`, `import_release` hands each bad record's error to it
and imports the rest (the authors' larger files hold such records); a file that is not JSON at all, or
not a list, still raises.

Documented defaults, where the authors' code would run the record: a null `task_background` is an
empty background (their user simulator then knows nothing beyond the task); the record keeps
`metadata["release_null"] = ["task_background"]` so export writes the null back. Every other null,
missing or malformed field rejects the record.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from synthagent.integrations.rubric_markdown import (
    RubricMarkdownError,
    parse_rubric_markdown,
    render_rubric_markdown,
    rubric_criteria,
)
from synthagent.spec.io import FormatError, OnReject
from synthagent.spec.models import FunctionDef, Rubric, Source, Task, ToolSpec

GENERATOR = "synthagent-release"
DEFAULT_DOMAIN = "synthagent-release"
KNOWN_KEYS = ("id", "prompt", "task_background", "rubrics", "domain")
NULL_DEFAULTS = ("task_background",)  # fields whose null the authors' code runs with: imported as ""

TOOLS_PREAMBLE = (
    "\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
TOOLS_EPILOGUE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
    "<args-json-object>}\n</tool_call>"
)
TASK_PREFIX = "Task Description:"
STANDARD_REQUIREMENTS = (
    "\n\n### Requirements:\n"
    "1. Please call only one tool at a time, and you must provide your brief reasoning process before using "
    "any tool. You can not just give a tool call without providing your reasoning process.\n\n"
    "2. Once the task is complete, output the final answer, wrapping the answer in `<answer></answer>` as a "
    "termination signal. \n\n"
    "3. IMPORTANT: The user most likely provided insufficient information, you are encouraged to interact "
    "with the user to gather more information if needed. Please interact with the user multiple turns, the "
    "more times you interact, the more information you can gather. Interact with the user to check for the "
    "important information!!!\n"
)

_POLICY = re.compile(r"<policy>(.*?)</policy>", re.DOTALL)
_TOOLS_BLOCK = re.compile(r"^<tools>[ \t]*\n(.*?)^</tools>", re.DOTALL | re.MULTILINE)
_REQUIREMENTS = re.compile(r"\n[ \t]*\n#{1,6}[ \t]*Requirements\b")

SYSTEM_FIELD = "prompt[0].content"
USER_FIELD = "prompt[1].content"


class _RecordError(Exception):
    """A problem inside one record; `import_record` turns it into a FormatError with path and number."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


# ----------------------------------------------------------------------------------------- system part


def split_policy(text: str) -> list[str]:
    """Policy text → rules, one per non-blank line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _tool_from_json(obj: Any, field: str) -> ToolSpec:
    if not isinstance(obj, dict):
        raise _RecordError(field, f"expected a JSON object, got {type(obj).__name__}")
    fn: dict[str, Any] = obj["function"] if isinstance(obj.get("function"), dict) else obj
    outputs: Any = fn.get("outputs", obj.get("outputs", {}))
    try:
        known = {k: fn[k] for k in ("name", "description", "parameters") if k in fn}
        return ToolSpec(function=FunctionDef(**known), returns=outputs)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise _RecordError(field, f"{where}: {first.get('msg', 'invalid value')}" if where else first["msg"]) from None


def _parse_tools(block: str) -> list[ToolSpec]:
    tools = []
    for number, line in enumerate(block.split("\n"), start=1):
        if not line.strip():
            continue
        field = f"{SYSTEM_FIELD} <tools> line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise _RecordError(field, f"not a JSON function ({err.msg} at column {err.colno})") from None
        tools.append(_tool_from_json(obj, field))
    return tools


def parse_system(text: str) -> tuple[list[str], list[ToolSpec]]:
    """The system message → (policy rules, tool specs). A record without a `<tools>` block is malformed;
    one without `<policy>` has no rules."""
    block = _TOOLS_BLOCK.search(text)
    if not block:
        raise _RecordError(SYSTEM_FIELD, "no <tools> … </tools> block (one JSON function per line)")
    policy = _POLICY.search(text[: block.start()]) or _POLICY.search(text)
    return (split_policy(policy.group(1)) if policy else []), _parse_tools(block.group(1))


def release_tool(spec: ToolSpec) -> dict[str, Any]:
    """A tool as the release writes it: the OpenAI function object with `outputs` inside `function`."""
    function: dict[str, Any] = spec.function.model_dump()
    if spec.returns:
        function["outputs"] = spec.returns
    return {"type": "function", "function": function}


def tool_line(spec: ToolSpec) -> str:
    """One line of the `<tools>` block, as the authors wrote it (json.dumps defaults: ASCII escapes)."""
    return json.dumps(release_tool(spec))


def render_system(policy: list[str], tools: list[ToolSpec]) -> str:
    head = f"<policy>{chr(10).join(policy)}</policy>" if policy else ""
    text = head + TOOLS_PREAMBLE + "".join(tool_line(t) + "\n" for t in tools) + TOOLS_EPILOGUE
    return text if policy else text.lstrip("\n")


# ------------------------------------------------------------------------------------------- user part


def parse_user(text: str) -> tuple[str, str]:
    """The user message → (instruction, requirements suffix).

    The template is "Task Description: {instruction}.{requirements}"; the authors' instructions already
    end in a period, hence the ".." in every record. One trailing period is the template's.
    """
    if not text.startswith(TASK_PREFIX):
        raise _RecordError(USER_FIELD, f"does not start with '{TASK_PREFIX}'")
    rest = text[len(TASK_PREFIX) :]
    rest = rest.removeprefix(" ")
    cut = _REQUIREMENTS.search(rest)
    description, requirements = (rest[: cut.start()], rest[cut.start() :]) if cut else (rest, "")
    instruction = description.removesuffix(".")
    if not instruction.strip():
        raise _RecordError(USER_FIELD, "empty task description")
    return instruction, requirements


def render_user(instruction: str, requirements: str = STANDARD_REQUIREMENTS) -> str:
    return f"{TASK_PREFIX} {instruction}.{requirements}"


# ----------------------------------------------------------------------------------------------- import


def _text_field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise _RecordError(key, "missing" if value is None else f"expected a string, got {type(value).__name__}")
    return value


def _messages(record: dict[str, Any]) -> tuple[str, str]:
    prompt = record.get("prompt")
    if not isinstance(prompt, list) or len(prompt) != 2:
        raise _RecordError("prompt", "expected a list of two messages: [system, user]")
    contents = []
    for index, (message, role) in enumerate(zip(prompt, ("system", "user"), strict=True)):
        if not isinstance(message, dict) or message.get("role") != role:
            raise _RecordError(f"prompt[{index}]", f"expected a message with role '{role}'")
        if not isinstance(message.get("content"), str):
            raise _RecordError(f"prompt[{index}].content", "expected a string")
        contents.append(message["content"])
    return contents[0], contents[1]


def _release_id(record: dict[str, Any]) -> str | int:
    value = record.get("id")
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
        raise _RecordError("id", "missing" if value is None else "expected a non-empty string or integer")
    return value


def _domain(record: dict[str, Any]) -> str | None:
    """A usable `domain` key; anything else (absent, empty, the default) stays with the extra keys."""
    value = record.get("domain")
    return value if isinstance(value, str) and value and value != DEFAULT_DOMAIN else None


def _rubric(text: str) -> Rubric:
    try:
        return parse_rubric_markdown(text, strict=True)
    except RubricMarkdownError as err:
        raise _RecordError("rubrics", str(err)) from None


def _verbatim(originals: dict[str, str], rendered: dict[str, str]) -> dict[str, str]:
    """The original texts that the templates do not reproduce exactly."""
    return {key: text for key, text in originals.items() if rendered[key] != text}


def _build(record: Any) -> Task:
    if not isinstance(record, dict):
        raise _RecordError("<record>", f"expected a JSON object, got {type(record).__name__}")
    release_id = _release_id(record)
    system, user = _messages(record)
    policy, tools = parse_system(system)
    instruction, requirements = parse_user(user)
    nulls = [key for key in NULL_DEFAULTS if key in record and record[key] is None]
    background = "" if "task_background" in nulls else _text_field(record, "task_background")
    markdown = _text_field(record, "rubrics")
    rubric = _rubric(markdown)
    domain = _domain(record)

    metadata: dict[str, Any] = {"release_id": release_id}
    if nulls:
        metadata["release_null"] = nulls
    if requirements != STANDARD_REQUIREMENTS:
        metadata["release_requirements"] = requirements
    rendered = {
        "system": render_system(policy, tools),
        "user": render_user(instruction, requirements),
        "rubrics": render_rubric_markdown(rubric),
    }
    verbatim = _verbatim({"system": system, "user": user, "rubrics": markdown}, rendered)
    if verbatim:
        metadata["release_verbatim"] = verbatim
    extra = {k: v for k, v in record.items() if k not in KNOWN_KEYS or (k == "domain" and domain is None)}
    if extra:
        metadata["release_extra"] = extra
    task = Task(
        domain=domain or DEFAULT_DOMAIN,
        instruction=instruction,
        tools=tools,
        policy=policy,
        user_background=background,
        rubric=rubric,
        source=Source(generator=GENERATOR),
        metadata=metadata,
    )
    return task.with_id()


def _import(record: Any, path: str | os.PathLike[str], number: int) -> Task:
    try:
        return _build(record)
    except _RecordError as err:
        raise FormatError(path, number, err.field, err.reason) from None
    except ValidationError as err:  # a value the Task model refuses (e.g. a tool name it cannot take)
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "<record>"
        raise FormatError(path, number, field, first.get("msg", "invalid value")) from None
    except (TypeError, AttributeError, KeyError) as err:  # a shape no check above anticipated: still this record's
        raise FormatError(path, number, "<record>", f"malformed record ({type(err).__name__}: {err})") from None


def import_record(record: Any, path: str | os.PathLike[str] = "<memory>", index: int = 0) -> Task:
    """One release record → Task. `index` is the 0-based position in the list; errors report index + 1."""
    return _import(record, path, index + 1)


def _load(path: Path, on_reject: OnReject | None = None) -> list[tuple[int, Any]]:
    """(record number, record) pairs: list positions for .json, line numbers for .jsonl (where a line that
    is not JSON is one bad record, handed to `on_reject` when given)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError as err:
                    error = FormatError(path, number, None, f"invalid JSON ({err.msg} at column {err.colno})")
                    if on_reject is None:
                        raise error from None
                    on_reject(error)
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, None, f"invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, list):
        raise FormatError(path, 1, None, f"expected a JSON list of records, got {type(data).__name__}")
    return list(enumerate(data, start=1))


def import_release(path: str | os.PathLike[str], on_reject: OnReject | None = None) -> list[Task]:
    """Read a release file (a JSON list, or JSON Lines if it ends in .jsonl) into Tasks, in order.

    Without `on_reject` the first bad record raises (all or nothing); with it, each bad record's
    `FormatError` goes to `on_reject` and the others are imported."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    tasks = []
    for number, record in _load(p, on_reject):
        try:
            tasks.append(_import(record, p, number))
        except FormatError as err:
            if on_reject is None:
                raise
            on_reject(err)
    return tasks


# ----------------------------------------------------------------------------------------------- export


def _tool_view(specs: list[ToolSpec]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """What the release carries of a tool: its function and its outputs (not kind, not distractor)."""
    return [(spec.function.model_dump(), spec.returns) for spec in specs]


def _requirements(task: Task) -> str:
    value = task.metadata.get("release_requirements")
    return value if isinstance(value, str) else STANDARD_REQUIREMENTS


def _still_system(text: str, task: Task) -> bool:
    policy, tools = parse_system(text)
    return policy == task.policy and _tool_view(tools) == _tool_view(task.tools)


def _still_user(text: str, task: Task) -> bool:
    return parse_user(text) == (task.instruction, _requirements(task))


def _still_rubric(text: str, task: Task) -> bool:
    return rubric_criteria(parse_rubric_markdown(text)) == rubric_criteria(task.rubric)


_STILL = {"system": _still_system, "user": _still_user, "rubrics": _still_rubric}


def _kept(task: Task, key: str) -> str | None:
    """The verbatim original of one piece, if the task still says what it said."""
    verbatim = task.metadata.get("release_verbatim")
    text = verbatim.get(key) if isinstance(verbatim, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return text if _STILL[key](text, task) else None
    except _RecordError:
        return None


def release_messages(task: Task) -> list[dict[str, str]]:
    """The [system, user] prompt the authors' training scripts feed the policy model."""
    system = _kept(task, "system") or render_system(task.policy, task.tools)
    user = _kept(task, "user") or render_user(task.instruction, _requirements(task))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def release_rubrics(task: Task) -> str:
    return _kept(task, "rubrics") or render_rubric_markdown(task.rubric)


def export_record(task: Task) -> dict[str, Any]:
    """Task → release record. A task that did not come from the release gets its own id as `id`."""
    nulls = task.metadata.get("release_null")
    null_background = isinstance(nulls, list) and "task_background" in nulls and not task.user_background
    record: dict[str, Any] = {
        "id": task.metadata.get("release_id", task.id),
        "prompt": release_messages(task),
        "task_background": None if null_background else task.user_background,
        "rubrics": release_rubrics(task),
    }
    if task.domain != DEFAULT_DOMAIN:
        record["domain"] = task.domain
    extra = task.metadata.get("release_extra")
    if isinstance(extra, dict):
        record.update({k: v for k, v in extra.items() if k not in record})
    return record


def export_release(tasks: Iterable[Task]) -> list[dict[str, Any]]:
    return [export_record(task) for task in tasks]


def write_release(tasks: Iterable[Task], path: str | os.PathLike[str]) -> int:
    """Write tasks as a release file, the way the authors' file is written (indent 1, UTF-8 text);
    JSON Lines if the name ends in .jsonl. Atomic: a temp file renamed into place."""
    p = Path(path)
    records = export_release(tasks)
    if p.suffix == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        text = json.dumps(records, indent=1, ensure_ascii=False)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return len(records)
