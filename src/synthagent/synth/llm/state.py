"""Per-unit state on disk: what each stage produced and cost, so a crashed run resumes where it stopped.

One JSON file per unit (``state/<id[:2]>/<id>.json``), rewritten atomically (temporary file, then
``os.replace``) after every stage. A SIGKILL therefore leaves either the previous or the new state,
never a torn one; the stage that was running is simply run again, and the LLM cache replays the calls it
had already made. ``outcome`` is set when the unit is finished (a candidate task or a rejection) and is
what the committer needs; the stage outputs stay for inspection (the teacher runs of stage D included).

The run folder also holds ``run.json``, the settings that decide results (seed, runs, turns, prompts,
models, dedup threshold). Resuming with different settings is refused: the accepted set would be a mix.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from synthagent.llm.jsonfast import dumps_bytes, loads
from synthagent.spec.manifest import ManifestMismatch
from synthagent.spec.manifest import check_manifest as check_manifest_file
from synthagent.synth.llm.models import Unit

STATE_FORMAT = 1
__all__ = ["ManifestMismatch", "UnitState", "atomic_write_json", "check_manifest"]


def atomic_write_json(path: Path, data: Any) -> None:
    # json.dumps uses the C encoder; json.dump (streaming to a file) falls back to pure Python
    _write_atomically(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _write_atomically(path: Path, blob: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # per process: writers never share a temporary
    tmp.write_bytes(blob.encode("utf-8") if isinstance(blob, str) else blob)
    os.replace(tmp, path)


class UnitState:
    """The stages a unit has finished, with their outputs and usage, and its outcome once it has one."""

    def __init__(self, path: Path, unit: Unit) -> None:
        self.path = path
        self.unit = unit
        self.stages: dict[str, dict[str, Any]] = {}
        self.repairs: list[dict[str, str]] = []
        self.outcome: dict[str, Any] | None = None

    @classmethod
    def load(cls, root: Path, unit: Unit) -> "UnitState":
        state = cls(root / unit.id[:2] / f"{unit.id}.json", unit)
        try:
            data = loads(state.path.read_bytes())
        except FileNotFoundError:
            return state
        except ValueError:  # unreadable (edited by hand?): start the unit again; the cache makes it cheap
            return state
        if data.get("format") != STATE_FORMAT or data.get("id") != unit.id:
            return state
        state.stages = data.get("stages", {})
        state.repairs = data.get("repairs", [])
        state.outcome = data.get("outcome")
        return state

    def output(self, stage: str) -> Any | None:
        entry = self.stages.get(stage)
        return None if entry is None else entry["output"]

    def usage(self) -> dict[str, dict[str, dict[str, int]]]:
        return {stage: entry.get("usage", {}) for stage, entry in self.stages.items()}

    async def commit(self, stage: str, output: Any, usage: dict[str, dict[str, int]]) -> None:
        self.stages[stage] = {"output": output, "usage": usage}
        await self.save()

    async def finish(self, outcome: dict[str, Any]) -> None:
        self.outcome = outcome
        await self.save()

    async def save(self) -> None:
        """Encode here (orjson: a state holds every teacher run, tens of kilobytes, saved after each stage),
        write on a worker thread: the rename and the write are file-system calls that would otherwise stall
        every unit's event loop (they cost about a millisecond each in profiles)."""
        blob = dumps_bytes({"format": STATE_FORMAT, "id": self.unit.id, "index": self.unit.index,
                            "persona": self.unit.persona, "seed": self.unit.seed, "stages": self.stages,
                            "repairs": self.repairs, "outcome": self.outcome})
        await asyncio.to_thread(_write_atomically, self.path, blob)


def check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``run.json`` on the first run; on a rerun, refuse settings that differ from it."""
    check_manifest_file(out / "run.json", manifest, what=str(out), hint="resume with the same settings or use a new --out")
