"""Checks on model-written tool schemas: valid JSON Schema, small, simulatable as text."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema

from synthagent.llm.jsonfast import canonical_json
from synthagent.synth.llm.models import ToolDef

MAX_OUTPUT_FIELDS = 8
MAX_OUTPUT_DEPTH = 3
BINARY_HINTS = ("binary", "byte", "base64")


def schema_problem(schema: dict[str, Any], where: str) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or None.

    A schema that names no ``$schema`` is checked against the Draft 7 meta-schema: tool schemas use
    nothing newer, and it is several times cheaper to check than 2020-12 (whose ``$dynamicRef`` dominated
    the pipeline's CPU profile). Results are memoised: models repeat the same small schemas constantly.
    """
    problem = _problem(canonical_json(schema))
    return None if problem is None else f"{where}{problem}"


@lru_cache(maxsize=8192)
def _problem(blob: bytes) -> str | None:
    schema = json.loads(blob)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        return f"{path} is not a valid JSON Schema: {exc.message}"
    return None


def tool_schema_problem(tool: ToolDef, label: str = "tool") -> str | None:
    name = tool.name
    return (schema_problem(tool.function.parameters, f"{label} {name}: parameters")
            or schema_problem(tool.outputs, f"{label} {name}: outputs"))


def _depth(schema: Any) -> int:
    if not isinstance(schema, dict):
        return 0
    children = list((schema.get("properties") or {}).values()) if isinstance(schema.get("properties"), dict) else []
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    return 1 + max((_depth(c) for c in children), default=0)


def _binary(schema: Any) -> bool:
    if isinstance(schema, dict):
        if any(h in str(schema.get("format", "")).lower() for h in BINARY_HINTS):
            return True
        if "contentEncoding" in schema or "contentMediaType" in schema:
            return True
        return any(_binary(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_binary(v) for v in schema)
    return False


def output_size_problem(tool: ToolDef) -> str | None:
    """Outputs a text model can simulate: few top-level fields, shallow nesting, no binary payloads."""
    problem = _output_problem(canonical_json(tool.outputs))
    return None if problem is None else f"tool {tool.name}: {problem}"


@lru_cache(maxsize=8192)
def _output_problem(blob: bytes) -> str | None:
    outputs = json.loads(blob)
    props = outputs.get("properties") if isinstance(outputs.get("properties"), dict) else {}
    if len(props) > MAX_OUTPUT_FIELDS:
        return f"outputs has {len(props)} top-level fields; keep at most {MAX_OUTPUT_FIELDS}"
    depth = _depth(outputs)
    if depth > MAX_OUTPUT_DEPTH:
        return f"outputs is nested {depth} levels deep; keep at most {MAX_OUTPUT_DEPTH}"
    if _binary(outputs):
        return "outputs holds binary data (format/contentEncoding); use plain text fields"
    return None
