"""A Hugging Face dataset folder: what `datasets.load_dataset(folder)` reads, with a card that says what is inside.

Layout: `data/train.jsonl` (one row per task), `README.md` (the dataset card: YAML front matter that tells
`datasets` where the data is, then counts per domain, difficulty and branch kind, the generators and their
parameters, the teacher and simulator models, the licence), and `schemas/` (the JSON Schemas of Task,
Trajectory and RubricResult).

Why a row carries the whole task as JSON text (`task`) beside a few flat columns: tasks of different world
kinds have differently shaped tools, worlds and metadata, and an Arrow column needs one type for all rows.
The flat columns are for browsing and filtering on the Hub; `task` is what round-trips to an equal `Task`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synthagent.spec.models import Task
from synthagent.spec.schema import write_schemas

DATA_FILE = "data/train.jsonl"


def row(task: Task) -> dict[str, Any]:
    return {"id": task.id, "domain": task.domain, "difficulty": task.difficulty, "world": task.world.kind,
            "branch": str(task.metadata.get("branch", "none")), "generator": task.source.generator,
            "instruction": task.instruction, "n_tools": len(task.tools),
            "n_rubric_items": sum(len(items) for _, items in task.rubric.sections()),
            "task": task.model_dump_json()}


def task_from_row(data: dict[str, Any]) -> Task:
    return Task.model_validate_json(data["task"])


def card_figures(tasks: list[Task]) -> dict[str, Any]:
    """The numbers the card states, computed once so the card and its tests cannot disagree."""
    rows = [row(t) for t in tasks]
    models: Counter[str] = Counter()
    for t in tasks:
        for key in ("teacher", "user_model", "tool_model", "judge_model", "model"):
            value = t.source.params.get(key)
            if isinstance(value, str) and value:
                models[f"{key}: {value}"] += 1
    return {"n": len(rows), "domain": Counter(r["domain"] for r in rows),
            "difficulty": Counter(str(r["difficulty"]) for r in rows), "branch": Counter(r["branch"] for r in rows),
            "world": Counter(r["world"] for r in rows), "generator": Counter(r["generator"] for r in rows),
            "models": models,
            "contamination": Counter(str(t.metadata["contamination"]) for t in tasks if "contamination" in t.metadata)}


def _table(title: str, counts: Counter[str]) -> str:
    lines = [f"| {title} | tasks |", "|---|---|"]
    lines += [f"| {key} | {n} |" for key, n in sorted(counts.items())]
    return "\n".join(lines)


def card(tasks: list[Task], name: str, licence: str) -> str:
    fig = card_figures(tasks)
    params = sorted({json.dumps({"generator": t.source.generator, "version": t.source.version,
                                 **{k: v for k, v in t.source.params.items() if k not in ("persona", "index")}},
                                sort_keys=True) for t in tasks})
    front = "\n".join(["---", f"license: {licence}", "pretty_name: " + json.dumps(name), "task_categories:",
                       "- text-generation", "tags:", "- agents", "- tool-use", "- reinforcement-learning", "- synthagent",
                       "size_categories:", f"- {_size(fig['n'])}", "configs:", "- config_name: default", "  data_files:",
                       "  - split: train", f"    path: {DATA_FILE}", "---"])
    models = _table("model", fig["models"]) if fig["models"] else "None: every task comes from a model-free generator " \
        "(procedural worlds need no teacher, and their user and tools are simulated by code)."
    contamination = _table("contamination check", fig["contamination"]) if fig["contamination"] else \
        "Not run on this export."
    return f"""{front}
# {name}

{fig['n']} agentic tool-use tasks made with [synthagent](https://github.com/) (the SynthAgent method,
arXiv 2601.22511): each has its own tools, an underspecified instruction, a hidden user ledger, a policy,
a three-part rubric and a gold plan.

Load it with `datasets.load_dataset("<this folder or repo>", split="train")`; each row's `task` column is the
full task as JSON (`synthagent.spec.models.Task.model_validate_json(row["task"])`), valid against
`schemas/task.schema.json`. The other columns repeat a few fields for filtering.

## Contents

{_table("domain", fig["domain"])}

{_table("difficulty", fig["difficulty"])}

{_table("branch kind", fig["branch"])}

{_table("world kind", fig["world"])}

## Generator

{_table("generator", fig["generator"])}

Configurations:

```
{chr(10).join(params)}
```

## Models

{models}

## Contamination

{contamination}

## Licence

{licence}
"""


def _size(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def write_hf(tasks: Iterable[Task], out: Path, name: str = "synthagent tasks", licence: str = "apache-2.0") -> int:
    """Write the dataset folder; the data file is written whole before the card, so a card never lies."""
    task_list = list(tasks)
    if not task_list:
        raise ValueError("no tasks to export")
    out.mkdir(parents=True, exist_ok=True)
    data = out / DATA_FILE
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for task in task_list:
            fh.write(json.dumps(row(task), ensure_ascii=False) + "\n")
    tmp.replace(data)
    write_schemas(out / "schemas")
    (out / "README.md").write_text(card(task_list, name, licence), encoding="utf-8")
    return len(task_list)
