"""A TRL GRPO task set: JSONL rows {prompt, environment, task_id, domain, difficulty, task}.

`prompt` is the [system, user] opening in the tool-only protocol, `environment` the key of the task's
tool set in `EnvironmentSuite.factories()`, and `task` the whole Task as JSON text, so the file alone
rebuilds the environments:

    rows = datasets.load_dataset("json", data_files="tasks.trl.jsonl")["train"]
    suite = EnvironmentSuite.from_rows(rows)
    GRPOTrainer(model, args=…, train_dataset=rows, environment_factory=suite.factories(),
                reward_funcs=[record_answers])
"""

from __future__ import annotations

import os

from synthagent.exports.sft import write_jsonl_rows
from synthagent.spec.models import Task


def write_trl(tasks: list[Task], path: str | os.PathLike[str], **suite_options: object) -> int:
    from synthagent.integrations.trl.environment import EnvironmentSuite

    suite = EnvironmentSuite(tasks, **suite_options)  # type: ignore[arg-type]
    return write_jsonl_rows(suite.rows(embed_task=True), path)
