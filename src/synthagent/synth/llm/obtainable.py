"""The obtainability gate of stage F: the gold run's every argument must be traceable (``synth/obtainability.py``).

A task with an argument from nowhere is rejected with the argument, the call and the value; an accepted
task records how many arguments came from each source (``metadata["obtainability"]``).
"""

from __future__ import annotations

from synthagent.spec.models import Task, Trajectory
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.obtainability import source_counts, trace_calls


def require_obtainable(task: Task, gold_run: Trajectory) -> dict[str, int]:
    """Raise StageRejected("F", "untraceable", reason) for the first untraceable argument; else the counts."""
    traces = trace_calls(task, gold_run.messages)
    missing = [t for t in traces if t.source is None]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise StageRejected("F", "untraceable", missing[0].reason() + more)
    return source_counts(traces)
