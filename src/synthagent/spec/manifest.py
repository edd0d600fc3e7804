"""Run manifests: the settings that decide a resumable command's output, written beside that output.

Every resumable command (``synth procedural``, ``synth llm``, ``rollout``, ``demo``) skips work already on
disk. That is only correct when the rerun asks for the same thing: a seed-0 tasks file "resumed" with
``--seed 1`` would silently keep seed-0 tasks, and a runs file "resumed" with another seed would mix
samples. So the first run writes its settings; a rerun compares and refuses with a message that names
each difference, unless the only change is a count that may grow (``--n``, ``--k``): a larger count gives
what a fresh run with that count gives, because item i depends on (settings, i) only.

A manifest file holds one section per *stream* (``None`` for a flat file): a runs file takes several
policies, each with its own settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any


class ManifestMismatch(ValueError):
    """The output was made with settings that would change the results."""


def manifest_path(out: Path) -> Path:
    """Where the manifest of an output file lives: beside it, named after it."""
    return out.with_name(out.name + ".manifest.json")


def file_digest(path: Path | None) -> str | None:
    """sha256 of a file's bytes (a config's identity), or None when there is no file."""
    if path is None:
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def write_json_atomically(path: Path, data: Any) -> None:
    """A temporary file renamed into place: a crash leaves the old manifest or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestMismatch(f"{path}: unreadable manifest ({exc}); start again with --overwrite") from None
    if not isinstance(data, dict):
        raise ManifestMismatch(f"{path}: unreadable manifest (not a JSON object); start again with --overwrite")
    return data


def check_manifest(path: Path, settings: Mapping[str, Any], *, section: str | None = None,
                   growable: Collection[str] = (), what: str | None = None,
                   hint: str = "resume with the same settings or start again with --overwrite") -> dict[str, Any] | None:
    """Record `settings` on the first run; on a rerun refuse any difference except a grown count.

    Returns the settings recorded before (None on a first run), so the caller can say what it resumed.
    Values are compared as JSON (tuples and lists alike). A count in `growable` may rise, never fall: a
    smaller count would leave items on disk that the new settings do not ask for.
    """
    settings = json.loads(json.dumps(dict(settings)))
    data = _read(path) if path.exists() else {}
    previous = data.get(section) if section is not None else (data or None)
    if previous is not None:
        differences = []
        for key in sorted(set(previous) | set(settings)):
            then, now = previous.get(key), settings.get(key)
            if then == now:
                continue
            if key in growable and isinstance(then, int) and isinstance(now, int) and now > then:
                continue
            differences.append(f"{key}: {then!r} then, {now!r} now")
        if differences:
            owner = what or str(path)
            label = f" for {section}" if section is not None else ""
            raise ManifestMismatch(f"{owner} was made with other settings{label} ({'; '.join(differences)}); {hint}")
        if previous == settings:
            return previous
    if section is not None:
        data[section] = settings
    else:
        data = settings
    write_json_atomically(path, data)
    return previous


def remove_manifest(path: Path, section: str | None = None) -> None:
    """Forget the recorded settings (``--overwrite``): all of them, or one section's."""
    if not path.exists():
        return
    if section is None:
        path.unlink()
        return
    data = _read(path)
    if data.pop(section, None) is not None:
        write_json_atomically(path, data)


def partial_tail(path: Path) -> str | None:
    """The last line of `path` when a crash left it without its newline (the resumer drops it), else None.

    Read from the end only, so checking a large file costs one small read.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        block = min(size, 1 << 20)
        fh.seek(size - block)
        tail = fh.read(block)
    return tail[tail.rfind(b"\n") + 1:].decode("utf-8", errors="replace")


def describe_partial(line: str) -> str:
    """A short, printable description of a dropped partial line."""
    shown = line if len(line) <= 60 else line[:57] + "..."
    return f"dropped a partial last line ({len(line.encode('utf-8'))} bytes: {shown!r})"
