"""LLM synthesis (the SynthAgent pipeline): persona → task, tools, restriction, workflow (A) → underspecified
instruction, hidden background and ledger (B) → tool check (C) → teacher runs in the simulated environment
(D) → alignment verdict, rubric and gold plan (E) → quality gate and near-duplicate removal (F).

Entry points: :func:`run_pipeline` / :func:`synthesize` (asyncio), :func:`run_processes` (several local
processes), :func:`run_ray` (sharded over Ray),
``synthagent synth llm`` (see :mod:`synthagent.synth.llm.cli`), and the stage functions themselves.

Names are imported lazily, so ``synthagent.synth.llm.cli`` can be mounted in the main command without
importing the ``openai`` SDK (an optional extra) until the command runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "PROMPT_VERSIONS": "common", "StageRejected": "common", "UnitMeter": "common",
    "NearDupIndex": "dedup",
    "STAGES": "models", "STAGE_NAMES": "models", "RubricDraft": "models", "Rewrite": "models",
    "SynthRejection": "models", "TaskDesign": "models", "ToolCheck": "models", "ToolDef": "models", "Unit": "models",
    "load_personas": "personas", "make_units": "personas", "unit_id": "personas",
    "Committer": "pipeline", "Engine": "pipeline", "Outcome": "pipeline", "Progress": "pipeline",
    "SynthOptions": "pipeline", "run_pipeline": "pipeline", "synthesize": "pipeline",
    "run_ray": "ray_backend", "RayUnavailable": "ray_backend", "run_processes": "processes",
    "design_task": "stage_a", "parse_design": "stage_a",
    "parse_rewrite": "stage_b", "underspecify": "stage_b",
    "check_tools": "stage_c", "parse_toolcheck": "stage_c",
    "TeacherPolicy": "stage_d", "solve": "stage_d",
    "parse_rubric": "stage_e", "write_rubric": "stage_e",
    "find_leak": "stage_f", "gate": "stage_f",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synthagent.synth.llm' has no attribute {name!r}")
    return getattr(import_module(f"synthagent.synth.llm.{module}"), name)
