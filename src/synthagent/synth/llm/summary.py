"""``summary.json``: the funnel of discards per stage, token costs, and this session's endpoint figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.committer import Committer
from synthagent.synth.llm.models import STAGE_NAMES, STAGES, Unit
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.stage_prompts import STAGE_LABELS
from synthagent.synth.llm.unit_runner import RunState


def merge_sessions(sessions: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    """Sum the session figures of the back end's workers or shards (one for the asyncio back end); their
    wall time overlaps, so the run's is ``elapsed``. Same keys as :func:`~.unit_runner.session_figures`."""
    keys = ("endpoint_calls", "retries", "cache_hits", "failures", "tokens_spent")
    merged: dict[str, Any] = {"elapsed_s": round(elapsed, 3)}
    merged.update({key: sum(s.get(key, 0) for s in sessions) for key in keys})
    merged["calls_per_s"] = round(merged["endpoint_calls"] / elapsed, 1) if elapsed > 0 else 0.0
    merged["usage_by_role"] = _sum_nested(sessions, "usage_by_role")
    merged["usage_by_stage"] = _sum_nested(sessions, "usage_by_stage")
    return merged


def _sum_nested(sessions: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for session in sessions:
        for name, counts in session.get(key, {}).items():
            bucket = total.setdefault(name, {})
            for field_name, value in counts.items():
                bucket[field_name] = bucket.get(field_name, 0) + value
    return total


def build_summary(out: Path, units: list[Unit], committer: Committer, run_state: RunState, options: SynthOptions,
                  config: LLMConfig, session: dict[str, Any]) -> dict[str, Any]:
    stats = committer.stats
    funnel: dict[str, dict[str, Any]] = {}
    entered = committer.next
    for stage in STAGES:
        dropped = stats.by_stage.get(stage, 0)
        funnel[stage] = {"name": STAGE_NAMES[stage], "entered": entered, "discarded": dropped,
                         "discard_rate": round(dropped / entered, 4) if entered else 0.0,
                         "kinds": dict(sorted(stats.kinds.get(stage, Counter()).items())),
                         "repaired_replies": stats.repairs.get(stage, 0)}
        entered -= dropped
    teacher = {stage: {"prompt": stats.tokens[stage]["teacher"]["prompt"],
                       "completion": stats.tokens[stage]["teacher"]["completion"],
                       "calls": stats.tokens[stage]["teacher"]["calls"]}
               for stage in STAGES if stage in STAGE_LABELS and stage in stats.tokens and "teacher" in stats.tokens[stage]}
    teacher_total = sum(v["prompt"] + v["completion"] for v in teacher.values())
    per_accepted: dict[str, float | None] = {
        STAGE_LABELS[stage]: (round((v["prompt"] + v["completion"]) / stats.accepted, 1) if stats.accepted else None)
        for stage, v in teacher.items()}
    per_accepted["total"] = round(teacher_total / stats.accepted, 1) if stats.accepted else None
    roles: dict[str, int] = defaultdict(int)
    for by_role in stats.tokens.values():
        for role, counts in by_role.items():
            roles[role] += counts["prompt"] + counts["completion"]
    complete = committer.done
    stopped = run_state.stopped
    if stopped is None and not complete and run_state.errors:
        stopped = "endpoint_errors"
    return {
        "out": str(out), "units": len(units), "committed": committer.next, "accepted": stats.accepted,
        "discarded": stats.discarded, "complete": complete, "stopped": stopped,
        "waiting": len(committer.pending),
        "unit_errors": len(run_state.errors), "first_errors": run_state.errors[:5],
        "discard_rate": round(stats.discarded / committer.next, 4) if committer.next else 0.0,
        "funnel": funnel,
        "teacher_tokens_by_stage": {STAGE_LABELS[s]: v for s, v in teacher.items()},
        "teacher_tokens_per_accepted_task": per_accepted,
        "tokens_by_role": dict(sorted(roles.items())),
        "session": session,
        "settings": {**options.manifest(config), "n": len(units), "concurrency": options.concurrency},
    }
