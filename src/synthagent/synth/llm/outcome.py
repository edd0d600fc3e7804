"""How a unit ends: :class:`Outcome` (a candidate task or a rejection), and :class:`StageRejected`, which a
stage raises to discard its unit with the stage, a short ``kind`` for counting and the precise reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthagent.spec.models import Task
from synthagent.synth.llm.models import STAGE_NAMES, SynthRejection, Unit


class StageRejected(Exception):
    """The unit is discarded at ``stage``; ``kind`` groups reasons for counting, ``reason`` explains."""

    def __init__(self, stage: str, kind: str, reason: str, attempts: Sequence[str] = ()) -> None:
        super().__init__(f"stage {stage} ({kind}): {reason}")
        self.stage = stage
        self.kind = kind
        self.reason = reason
        self.attempts = list(attempts)
        self.usage: dict[str, dict[str, int]] = {}
        """What the stage had spent when it rejected the unit (filled in by the engine)."""


@dataclass
class Outcome:
    """A finished unit: a candidate task (passed A–F's per-task checks) or a rejection."""

    unit: Unit
    task: Task | None = None
    rejection: SynthRejection | None = None

    def to_json(self) -> dict[str, Any]:
        if self.task is not None:
            return {"status": "candidate", "task": self.task.model_dump(mode="json")}
        assert self.rejection is not None
        return {"status": "discarded", "rejection": self.rejection.model_dump(mode="json")}

    @classmethod
    def from_json(cls, unit: Unit, data: dict[str, Any]) -> "Outcome":
        if data["status"] == "candidate":
            return cls(unit, task=Task.model_validate(data["task"]))
        return cls(unit, rejection=SynthRejection.model_validate(data["rejection"]))

    def to_message(self) -> dict[str, Any]:
        """The outcome with its unit, as a worker process or a Ray shard sends it to the driver."""
        return {"unit": self.unit.model_dump(), **self.to_json()}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> "Outcome":
        return cls.from_json(Unit.model_validate(data["unit"]), data)


def rejection_record(unit: Unit, stage: str, kind: str, reason: str, *, attempts: list[str] | None = None,
              domain: str | None = None, usage: dict[str, Any] | None = None,
              repairs: list[dict[str, str]] | None = None) -> SynthRejection:
    """The record of a discarded unit, as ``rejected.jsonl`` holds it."""
    return SynthRejection(id=unit.id, index=unit.index, persona=unit.persona, seed=unit.seed, stage=stage,
                          stage_name=STAGE_NAMES[stage], kind=kind, reason=reason, attempts=attempts or [],
                          domain=domain, usage=usage or {}, repairs=repairs or [])
