"""BFCL-v4 multi-turn tasks from the installed `bfcl-eval` wheel's JSON, as typed entries.

The wheel's declared dependencies are heavy and pinned; none is needed to read its data or to run the
multi-turn API classes (plain Python), so it is installed with `--no-deps` and only read. An entry keeps
BFCL's fields: the user turns, each API class's initial configuration, the classes involved, the ground
truth (per turn, BFCL's call strings), the functions withheld until a later turn (`miss_func`) and those
excluded altogether. Tools are BFCL's function docs converted to OpenAI's JSON Schema dialect (BFCL
writes "dict", "float", "tuple", "any").
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

CATEGORIES = ("base", "miss_func", "miss_param", "long_context")
VERSION_FILE_PREFIX = "BFCL_v4_multi_turn_"


class BfclUnavailable(ImportError):
    """The `bfcl-eval` wheel is needed and is not installed."""


def package_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        raise BfclUnavailable("BFCL needs the bfcl-eval wheel: pip install --no-deps bfcl-eval "
                              "(only its data and API classes are used)")
    return Path(spec.origin).parent


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("bfcl-eval")
    except metadata.PackageNotFoundError:
        return "unknown"


class BfclEntry(BaseModel):
    id: str
    category: str
    turns: list[list[dict[str, Any]]] = Field(description="BFCL's `question`: per turn, the user messages.")
    initial_config: dict[str, Any]
    involved_classes: list[str]
    ground_truth: list[list[str]]
    missed_function: dict[int, list[str]] = Field(default_factory=dict)
    excluded_function: list[str] = Field(default_factory=list)

    @property
    def long_context(self) -> bool:
        return "long_context" in self.category

    def gold_calls(self) -> list[list[list[str]]]:
        """The ground truth as a model result: per turn, one step holding all of the turn's calls."""
        return [[list(turn)] if turn else [] for turn in self.ground_truth]


_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "bool": "boolean",
          "list": "array", "str": "string"}


def to_json_schema(schema: Any) -> Any:
    """BFCL's parameter schema in OpenAI's dialect: its Python type names mapped, "any" left untyped."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            if value == "any":
                continue
            out[key] = _TYPES.get(value, value)
        elif key == "response":
            continue
        else:
            out[key] = to_json_schema(value)
    return out


def class_functions(data: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Each API class's function docs (BFCL's), by class name."""
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    folder = (data or package_dir() / "data") / "multi_turn_func_doc"
    out: dict[str, list[dict[str, Any]]] = {}
    for cls, name in MULTI_TURN_FUNC_DOC_FILE_MAPPING.items():
        path = folder / name
        if path.exists():
            out[cls] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def tools_for(entry: BfclEntry, turn: int, docs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The OpenAI tools available at `turn`: the involved classes' functions, minus excluded ones and
    minus `miss_func` functions before the turn that adds them."""
    withheld = {name for t, names in entry.missed_function.items() if t > turn for name in names}
    tools = []
    for cls in entry.involved_classes:
        for doc in docs.get(cls, []):
            if doc["name"] in entry.excluded_function or doc["name"] in withheld:
                continue
            tools.append({"type": "function", "function": {"name": doc["name"], "description": doc.get("description", ""),
                                                           "parameters": to_json_schema(doc.get("parameters") or {})}})
    return tools


def load_entries(category: str = "base", data: Path | None = None) -> list[BfclEntry]:
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL multi-turn category {category!r}; known: {', '.join(CATEGORIES)}")
    folder = data or package_dir() / "data"
    questions = folder / f"{VERSION_FILE_PREFIX}{category}.json"
    answers = folder / "possible_answer" / f"{VERSION_FILE_PREFIX}{category}.json"
    gold = {}
    for number, line in enumerate(answers.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            record = json.loads(line)
            gold[record["id"]] = record["ground_truth"]
    entries = []
    for number, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if raw["id"] not in gold:
            raise ValueError(f"{answers}: no ground truth for {raw['id']} ({questions}:{number})")
        entries.append(BfclEntry(
            id=raw["id"], category=category, turns=raw["question"], initial_config=raw.get("initial_config") or {},
            involved_classes=raw["involved_classes"], ground_truth=gold[raw["id"]],
            missed_function={int(k): v for k, v in (raw.get("missed_function") or {}).items()},
            excluded_function=raw.get("excluded_function") or []))
    return entries


def entries_fingerprint(entries: list[BfclEntry]) -> str:
    """sha256 of the entries as played (turns, configs, ground truth): two runs on different data differ here."""
    text = json.dumps([e.model_dump(mode="json") for e in entries], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rules_fingerprint() -> str:
    """sha256 of the rules read from the installed bfcl-eval that shape a run: the per-turn step limit and the
    line said when withheld functions are added. A changed rule makes two runs visibly not comparable."""
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC, MAXIMUM_STEP_LIMIT

    text = json.dumps([MAXIMUM_STEP_LIMIT, DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
