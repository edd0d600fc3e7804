"""Personas: Persona Hub-style JSONL (``{"persona": "..."}`` per line), and the project's own small set.

Errors name the file, the line and the field (``spec.io.FormatError``). Extra fields (ids, tags) are
allowed and ignored; exact duplicate personas are dropped, since a persona and a seed determine a task id.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from synthagent.spec.io import OnReject, iter_jsonl
from synthagent.synth.llm.models import Unit


class PersonaRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    persona: str

    @field_validator("persona")
    @classmethod
    def _text(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 3:
            raise ValueError("persona must be a non-empty description (at least 3 characters)")
        return value


def default_personas_path() -> Path:
    return Path(str(resources.files("synthagent.synth").joinpath("personas.jsonl")))


def load_personas(path: str | Path | None = None, on_reject: OnReject | None = None) -> list[str]:
    """The personas of ``path`` (default: the shipped set), in file order, exact duplicates dropped.

    A bad line raises, or, given ``on_reject``, is handed to it and skipped (a file with no good line
    still raises)."""
    source = Path(path) if path is not None else default_personas_path()
    seen: set[str] = set()
    personas: list[str] = []
    for record in iter_jsonl(source, PersonaRecord, on_reject=on_reject):
        if record.persona not in seen:
            seen.add(record.persona)
            personas.append(record.persona)
    if not personas:
        raise ValueError(f"{source}: no personas (expected JSON lines like {{\"persona\": \"...\"}})")
    return personas


def unit_id(persona: str, seed: int) -> str:
    """The task id of a (persona, seed) unit: sha256, the same on every machine and in every run."""
    return hashlib.sha256(f"synthagent.synth.llm\x00{persona}\x00{seed}".encode("utf-8")).hexdigest()[:32]


def make_units(personas: list[str], n: int | None = None, seed: int = 0) -> list[Unit]:
    """``n`` units (default: one per persona). Beyond the persona count the list is walked again with the
    next seed, so persona p's k-th pass has seed ``seed + k``: a different task, a different id."""
    count = len(personas) if n is None else n
    if count < 1:
        raise ValueError(f"--n must be at least 1, got {count}")
    units = []
    for index in range(count):
        persona = personas[index % len(personas)]
        unit_seed = seed + index // len(personas)
        units.append(Unit(index=index, persona=persona, seed=unit_seed, id=unit_id(persona, unit_seed)))
    return units
