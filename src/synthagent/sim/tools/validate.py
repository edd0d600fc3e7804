"""A small, fast JSON-Schema validator for tool arguments.

Tool-call steps sit on the hot path of every rollout (target ≤ 50 µs a step), and the generic
`jsonschema` validator costs more than the whole step. Tool parameter schemas use a small subset
(object/properties/required/additionalProperties, type, enum, maxLength, items, minimum/maximum), which
this covers; anything outside the subset is accepted here and left to the tool itself.
"""

from __future__ import annotations

import json
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def validation_error(value: Any, schema: dict[str, Any], path: str = "arguments") -> str | None:
    """The first problem found, as a sentence naming the argument path; None when the value fits."""
    expected = schema.get("type")
    if expected is not None:
        kinds = expected if isinstance(expected, list) else [expected]
        ok = False
        for kind in kinds:
            py = _TYPES.get(kind)
            if py is None:
                ok = True
                break
            if isinstance(value, py) and not (kind in ("integer", "number") and isinstance(value, bool)):
                ok = True
                break
        if not ok:
            return f"{path}: expected {' or '.join(kinds)}, got {_json_kind(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{path}: string of {len(value)} characters exceeds maxLength {schema['maxLength']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: {value} is below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: {value} is above the maximum {schema['maximum']}"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                return f"{path}: missing required argument '{name}'"
        for name, item in value.items():
            sub = props.get(name)
            if sub is None:
                if schema.get("additionalProperties", True) is False:
                    return f"{path}: unexpected argument '{name}'"
                continue
            problem = validation_error(item, sub, f"{path}.{name}")
            if problem:
                return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problem = validation_error(item, schema["items"], f"{path}[{i}]")
            if problem:
                return problem
    return None


def _json_kind(value: Any) -> str:
    for name, py in _TYPES.items():
        if isinstance(value, py) and not (name in ("integer", "number") and isinstance(value, bool)):
            return "integer" if name == "integer" else name
    return type(value).__name__


MAX_ARGUMENT_CHARS = 20_000


def parse_call(name: str, arguments: str | dict[str, Any], schemas: dict[str, dict[str, Any]]
               ) -> tuple[dict[str, Any] | None, str | None]:
    """Every tool backend's first step: (arguments, None) for a well-formed call, else (maybe-args, error).

    Unknown tool, oversized or non-JSON arguments, a non-object and schema violations all become an error
    sentence for the agent's observation; the parsed arguments are returned whenever they parsed, so the
    scorer can still see what was attempted.
    """
    if name not in schemas:
        return None, f"unknown tool '{name}'. Available tools: {', '.join(sorted(schemas))}"
    if isinstance(arguments, str):
        if len(arguments) > MAX_ARGUMENT_CHARS:
            return None, f"arguments of {len(arguments)} characters exceed the limit of {MAX_ARGUMENT_CHARS}"
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as err:
            return None, f"arguments are not valid JSON ({err.msg} at column {err.colno})"
    else:
        args = arguments
    if not isinstance(args, dict):
        return None, "arguments must be a JSON object"
    problem = validation_error(args, schemas[name])
    return args, problem
