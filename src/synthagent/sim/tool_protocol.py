"""The tool-only conversation protocol that TRL's `environment_factory` imposes, and conversions to ours.

TRL's GRPOTrainer ends a rollout at the first assistant message without a tool call, so in TRL the agent
cannot talk to the user in plain text. Here it asks through a tool, `ask_user(question)`, whose result is
the simulated user's reply; a confirmation request is an `ask_user` call too; the final message (no tool
call) is the answer, `<answer>…</answer>` as in the runtime. One module owns this protocol, so the TRL
environment, the SFT export in this protocol and the local transformers policy (`protocol="ask_user"`)
render exactly the same conversations, and the same episode maps back to a runtime `Trajectory` that the
scorer grades exactly as it grades a runtime episode.

Tool schemas. TRL shows the model the schema that `transformers.get_json_schema` derives from each
environment method (type hints + Google docstring), not the task's own JSON Schema; `tool_schemas` builds
that derived form without importing transformers, so SFT data and GRPO prompts agree token for token
(tests check the equality against `get_json_schema`). The executable backend still validates every call
against the task's full schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from synthagent.sim.runtime import PROTOCOL_NOTE, extract_answer, system_prompt
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall, ToolSpec

ASK_USER = "ask_user"
ASK_USER_DOC = "Ask the user a question, or ask them to confirm an action, and get their reply."
ASK_USER_ARG_DOC = "What to ask the user, in one or two sentences."
TOOL_PROTOCOL_NOTE = (
    "Call tools with function calls. Ask the user for anything you need with the ask_user tool, and ask them to "
    "confirm changes with it too. Finish with your final reply inside <answer></answer>."
)
RESERVED_NAMES = frozenset({ASK_USER, "reset", "get_reward", "task", "result", "trajectory", "suite", "toolset"})
_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "list",
             "object": "dict"}
_DOC_SECTIONS = re.compile(r"\b(Args|Returns|Raises):")


def tool_system_prompt(task: Task) -> str:
    """The runtime's system prompt with the protocol note for tool-only conversations."""
    base = system_prompt(task)
    if not base.endswith(PROTOCOL_NOTE):  # pragma: no cover - guards a change of the runtime's prompt
        raise RuntimeError("the runtime system prompt no longer ends with its protocol note")
    return base[: -len(PROTOCOL_NOTE)] + TOOL_PROTOCOL_NOTE


def prompt_messages(task: Task, opening: str | None = None) -> list[dict[str, Any]]:
    """[system, user]: what a TRL dataset row's `prompt` holds (the user opens with the instruction)."""
    return [{"role": "system", "content": tool_system_prompt(task)},
            {"role": "user", "content": task.instruction if opening is None else opening}]


# ------------------------------------------------------------------------------------------ tool schemas


def clean_doc(text: str, fallback: str) -> str:
    """One line, without the words a Google-docstring parser treats as section headers."""
    text = " ".join((text or "").split()) or fallback
    return _DOC_SECTIONS.sub(lambda m: f"{m.group(1)} -", text)


def check_tool_names(tools: list[ToolSpec]) -> None:
    for spec in tools:
        if spec.name in RESERVED_NAMES or spec.name.startswith("_") or not spec.name.isidentifier():
            raise ValueError(f"tool name {spec.name!r} cannot be an environment method (reserved, private or "
                             "not a Python identifier)")


def parameter_list(spec: ToolSpec) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, schema, required) of each argument, in the schema's order."""
    params = spec.function.parameters or {}
    required = set(params.get("required", []))
    return [(name, sub if isinstance(sub, dict) else {}, name in required)
            for name, sub in (params.get("properties") or {}).items()]


def _json_type(schema: dict[str, Any]) -> Any:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "string"
    return kind if kind in _PY_TYPES else "string"


def _enum_type(values: list[Any]) -> Any:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    kinds = list(dict.fromkeys(names.get(type(v), "string") for v in values))
    return kinds[0] if len(kinds) == 1 else kinds


def derived_schema(spec: ToolSpec) -> dict[str, Any]:
    """The schema transformers derives from the generated method of `spec` (see `make_tool_function`)."""
    properties: dict[str, Any] = {}
    required = []
    for name, sub, is_required in parameter_list(spec):
        if "enum" in sub and sub["enum"]:
            prop: dict[str, Any] = {"type": _enum_type(list(sub["enum"])), "enum": list(sub["enum"])}
        else:
            prop = {"type": _json_type(sub)}
        if not is_required:
            prop["nullable"] = True
        else:
            required.append(name)
        prop["description"] = clean_doc(sub.get("description", ""), name.replace("_", " "))
        properties[name] = prop
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": spec.name,
                                             "description": clean_doc(spec.function.description, spec.name),
                                             "parameters": parameters}}


def ask_user_schema() -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": ASK_USER, "description": ASK_USER_DOC,
        "parameters": {"type": "object", "properties": {"question": {"type": "string", "description": ASK_USER_ARG_DOC}},
                       "required": ["question"]}}}


def tool_schemas(task: Task) -> list[dict[str, Any]]:
    """What the agent sees in the tool protocol: the task's tools, then ask_user (the environment's order)."""
    check_tool_names(task.tools)
    return sorted([derived_schema(t) for t in task.tools] + [ask_user_schema()],
                  key=lambda s: s["function"]["name"])


def function_docstring(spec: ToolSpec) -> str:
    lines = [clean_doc(spec.function.description, spec.name)]
    params = parameter_list(spec)
    if params:
        lines += ["", "Args:"]
        for name, sub, _ in params:
            lines.append(f"    {name}: {clean_doc(sub.get('description', ''), name.replace('_', ' '))}")
    return "\n".join(lines)


def annotation(schema: dict[str, Any], required: bool) -> Any:
    """The Python annotation transformers maps back to the derived schema (Literal for enums)."""
    from typing import Literal, Optional

    if "enum" in schema and schema["enum"]:
        hint: Any = Literal[tuple(schema["enum"])]
    else:
        hint = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list,
                "object": dict}[_json_type(schema)]
    return hint if required else Optional[hint]


# ------------------------------------------------------------------------------- messages both ways


def tool_call_dict(name: str, arguments: str | dict[str, Any], call_id: str | None = None, *,
                   structured: bool = False) -> dict[str, Any]:
    """An OpenAI tool call; arguments as JSON text, or (`structured`) as an object when they parse as one:
    some chat templates (Qwen2.5's) apply `tojson` to the arguments whatever they are."""
    if structured and isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            parsed = None
        arguments = parsed if isinstance(parsed, dict) else arguments
    args = arguments if structured or isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": args}}
    if call_id:
        call["id"] = call_id
    return call


def to_tool_protocol(messages: list[Message], task: Task, *, structured: bool = False) -> list[dict[str, Any]]:
    """A runtime conversation → the tool protocol: agent text becomes `ask_user`, user replies its result.

    The system prompt is swapped for the tool-protocol one; a final agent message (one holding an answer)
    stays plain text. Tool call arguments stay JSON text (what an OpenAI-format file holds), or become
    objects with `structured` (what templates that `tojson` the arguments need).
    """
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg.role == "system":
            out.append({"role": "system", "content": tool_system_prompt(task)})
        elif msg.actor == "user" and i <= 1:
            out.append({"role": "user", "content": msg.content or ""})
        elif msg.actor == "user":
            out.append({"role": "tool", "name": ASK_USER, "content": msg.content or ""})
        elif msg.role == "tool":
            out.append({"role": "tool", "name": msg.name or "", "content": msg.content or ""})
        elif msg.tool_calls:
            out.append({"role": "assistant", "content": msg.content or "",
                        "tool_calls": [tool_call_dict(c.function.name, c.function.arguments, structured=structured)
                                       for c in msg.tool_calls]})
        elif extract_answer(msg.content) is not None or i == len(messages) - 1:
            out.append({"role": "assistant", "content": msg.content or ""})
        else:
            out.append({"role": "assistant", "content": "",
                        "tool_calls": [tool_call_dict(ASK_USER, {"question": msg.content or ""}, structured=structured)]})
    return out


def final_answer(text: str | None) -> str:
    """In the tool protocol a message without tool calls ends the episode: its answer, tag or not."""
    answer = extract_answer(text)
    return answer if answer is not None else (text or "").strip()


def question_of(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    if isinstance(arguments, dict):
        value = arguments.get("question", next(iter(arguments.values()), ""))
        return value if isinstance(value, str) else json.dumps(value)
    return str(arguments)


def agent_call_message(name: str, arguments: Any, call_id: str) -> Message:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return Message(role="assistant", actor="agent", content=None,
                   tool_calls=[ToolCall(id=call_id, function=FunctionCall(name=name, arguments=args))])

