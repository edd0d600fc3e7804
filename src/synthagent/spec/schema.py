"""JSON Schema export of the public models; `synthagent schema` regenerates the files in `schemas/`."""

from __future__ import annotations

import json
from pathlib import Path

from synthagent.spec.models import RubricResult, Task, Trajectory

PUBLIC_MODELS = {"task": Task, "trajectory": Trajectory, "rubric_result": RubricResult}


def schema_texts() -> dict[str, str]:
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in PUBLIC_MODELS.items()
    }


def write_schemas(directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in schema_texts().items():
        path = out / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
