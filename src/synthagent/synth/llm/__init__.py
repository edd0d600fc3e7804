"""LLM synthesis (the SynthAgent pipeline): persona → task, tools, restriction, workflow (A) → underspecified
instruction, hidden background and ledger (B) → tool check (C) → teacher runs in the simulated environment
(D) → alignment verdict, rubric and gold plan (E) → quality gate and near-duplicate removal (F).

Entry points: :func:`run_pipeline` / :func:`synthesize` (asyncio), :func:`run_processes` (several local
processes), :func:`run_ray` (sharded over Ray), all three run by the one driver (``driver.py``),
``synthagent synth llm`` (see :mod:`synthagent.commands.synth_llm`), and the stage functions themselves.

Modules, by job: one per stage (``design``, ``underspecification``, ``toolcheck``, ``teacher_runs``,
``rubric``, ``quality_gate``) with what they share (``stage_prompts``, ``teacher_ask``, ``unit_meter``,
``outcome``, ``models``, ``schemas``); one unit through the stages (``engine``, ``state``); many units
(``unit_runner``); a run (``options``, ``personas``, ``committer``, ``dedup``, ``summary``, ``driver``); the
back ends (``pipeline``, ``processes``, ``ray_backend``) and the command (``cli``).

Names are imported lazily, so ``synthagent.commands.synth_llm`` can be mounted in the main command without
importing the ``openai`` SDK (an optional extra) until the command runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "PROMPT_VERSIONS": "stage_prompts", "StageRejected": "outcome", "UnitMeter": "unit_meter",
    "NearDupIndex": "dedup",
    "STAGES": "models", "STAGE_NAMES": "models", "RubricDraft": "models", "Rewrite": "models",
    "SynthRejection": "models", "TaskDesign": "models", "ToolCheck": "models", "ToolDef": "models", "Unit": "models",
    "load_personas": "personas", "make_units": "personas", "unit_id": "personas",
    "Committer": "committer", "Engine": "engine", "Outcome": "outcome", "Progress": "driver",
    "SynthOptions": "options", "run_pipeline": "pipeline", "synthesize": "pipeline",
    "run_ray": "ray_backend", "RayUnavailable": "ray_backend", "run_processes": "processes",
    "design_task": "design", "parse_design": "design",
    "parse_rewrite": "underspecification", "underspecify": "underspecification",
    "check_tools": "toolcheck", "parse_toolcheck": "toolcheck",
    "TeacherPolicy": "teacher_runs", "solve": "teacher_runs",
    "parse_rubric": "rubric", "write_rubric": "rubric",
    "find_leak": "quality_gate", "gate": "quality_gate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synthagent.synth.llm' has no attribute {name!r}")
    return getattr(import_module(f"synthagent.synth.llm.{module}"), name)
