"""The paper's consistency mechanism: a per-task mapping M of (tool, canonical arguments) → response.

All rollouts of a task share one M, so the same call gets the same answer in every rollout (otherwise
GRPO advantages measure the tool simulator's mood, not the agent). M lives in memory, one object per task
and backend, and on disk as one JSON Lines file per task (`<store_dir>/<task id>.jsonl`), so that runs
resumed later and other processes working on the same task see the same entries.

Canonical arguments (`canonical_args`) are the JSON text of the arguments after:
- keys sorted, no insignificant whitespace, non-ASCII kept as is;
- strings NFC-normalised, stripped, and runs of whitespace collapsed to one space;
- integral floats written as integers (2.0 → 2), booleans left as booleans;
- object keys whose value is null dropped (an optional argument sent as null means "not given").
Letter case is kept: identifiers can be case-sensitive, and a case variant is a decision for the tool
simulator, which can answer it with an existing entry ("reuse"). List order is kept: it can matter.

Concurrency. Appends happen under an exclusive `fcntl.flock` on `<task id>.lock`; inside the lock the
file is re-read first, so when another process (or another backend object) already stored the same key,
its entry wins and is returned instead of the new one: the first writer decides for everyone. Readers
never take the lock: they consume only complete lines (a line is written with one `write` call and
ends in a newline), so a half-written line is simply picked up on the next refresh. A line that does
not parse (a crash mid-write) is skipped and counted in `corrupt_lines`; the next append starts on a
fresh line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

try:  # POSIX; elsewhere the store still works for one process at a time
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
_SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_WS = re.compile(r"\s+")


def _normalize(value: Any) -> Any:
    if isinstance(value, str):
        return _WS.sub(" ", unicodedata.normalize("NFC", value)).strip()
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value


def canonical_args(args: Any) -> str:
    """The canonical JSON text of a call's arguments (see the module docstring for the rules)."""
    return json.dumps(_normalize(args), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render_response(response: Any) -> str:
    """The observation text of a response: one fixed rendering, so a hit is byte-identical to the original."""
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False, separators=(", ", ": "))


def store_name(task_id: str) -> str:
    """A file-system-safe stem for a task id (the id itself when it is already safe)."""
    if _SAFE_ID.fullmatch(task_id) and not task_id.startswith("."):
        return task_id
    return "task-" + hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Entry:
    """One mapping entry. `alias_of` names the entry whose response a reused call took over."""

    index: int
    tool: str
    args: str
    response: Any
    alias_of: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.tool, self.args)

    @property
    def content(self) -> str:
        return render_response(self.response)

    def record(self) -> dict[str, Any]:
        return {"v": FORMAT, "i": self.index, "tool": self.tool, "args": self.args, "response": self.response,
                "alias_of": self.alias_of}


class ToolMapping:
    """M for one task: in-memory entries backed by an append-only JSONL file (or memory only)."""

    def __init__(self, task_id: str, store_dir: str | os.PathLike[str] | None = None):
        self.task_id = task_id
        self.entries: list[Entry] = []
        self.by_key: dict[tuple[str, str], Entry] = {}
        self.corrupt_lines = 0
        self._offset = 0
        self.path: Path | None = None
        self.lock_path: Path | None = None
        if store_dir is not None:
            folder = Path(store_dir)
            folder.mkdir(parents=True, exist_ok=True)
            stem = store_name(task_id)
            self.path = folder / f"{stem}.jsonl"
            self.lock_path = folder / f"{stem}.lock"
            self.refresh()

    def __len__(self) -> int:
        return len(self.entries)

    # ----------------------------------------------------------------------------------- reading

    def get(self, tool: str, args: str) -> Entry | None:
        return self.by_key.get((tool, args))

    def lookup(self, tool: str, args: str) -> Entry | None:
        """The entry for the key, refreshing from disk first when it is not known in memory."""
        entry = self.by_key.get((tool, args))
        if entry is None and self.path is not None:
            self.refresh()
            entry = self.by_key.get((tool, args))
        return entry

    def refresh(self) -> int:
        """Read entries other writers appended since the last read; returns how many were added."""
        if self.path is None or not self.path.exists():
            return 0
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n")
        if end < 0:
            return 0
        added = 0
        for line in data[:end].split(b"\n"):
            if line.strip():
                added += self._ingest(line)
        self._offset += end + 1
        return added

    def _ingest(self, line: bytes) -> int:
        try:
            rec = json.loads(line)
            tool, args, response = rec["tool"], rec["args"], rec["response"]
            if not isinstance(tool, str) or not isinstance(args, str):
                raise TypeError("tool and args must be strings")
        except (ValueError, KeyError, TypeError):
            self.corrupt_lines += 1
            return 0
        if (tool, args) in self.by_key:  # a duplicate key can only come from a foreign writer: first wins
            return 0
        alias = rec.get("alias_of")
        entry = Entry(index=len(self.entries), tool=tool, args=args, response=response,
                      alias_of=alias if isinstance(alias, int) else None)
        self.entries.append(entry)
        self.by_key[entry.key] = entry
        return 1

    # ----------------------------------------------------------------------------------- writing

    def add(self, tool: str, args: str, response: Any, alias_of: int | None = None) -> tuple[Entry, bool]:
        """Store a response for the key unless someone stored one first; (the entry in force, added?)."""
        if self.path is None:
            existing = self.by_key.get((tool, args))
            if existing is not None:
                return existing, False
            entry = Entry(len(self.entries), tool, args, response, alias_of)
            self.entries.append(entry)
            self.by_key[entry.key] = entry
            return entry, True
        with self._locked():
            self.refresh()
            existing = self.by_key.get((tool, args))
            if existing is not None:
                return existing, False
            entry = Entry(len(self.entries), tool, args, response, alias_of)
            line = json.dumps(entry.record(), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # the refresh above read every complete line, so bytes past our offset are a line torn by a
                # crash: start afresh on a new line
                torn = os.fstat(fd).st_size != self._offset
                os.write(fd, b"\n" + line if torn else line)
            finally:
                os.close(fd)
            if torn:
                self.refresh()
            else:  # nobody else writes while we hold the lock: take our own line without reading it back
                self._ingest(line)
                self._offset += len(line)
            stored = self.by_key[(tool, args)]
            return stored, True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.lock_path is not None
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ----------------------------------------------------------------------------------- context

    def relevant(self, tool: str, args: str, cap: int) -> list[Entry]:
        """What the tool simulator is shown: entries of the same tool first (the most similar to the call
        first), then other tools' entries (the most recent first), at most `cap`. Aliases are left out:
        their response is already shown under the entry they point to."""
        if cap <= 0:
            return []
        own = [e for e in self.entries if e.alias_of is None and e.tool == tool]
        other = [e for e in self.entries if e.alias_of is None and e.tool != tool]
        wanted = _atoms(args)
        own.sort(key=lambda e: (-len(wanted & _atoms(e.args)), -e.index))
        other.sort(key=lambda e: -e.index)
        chosen = (own + other)[:cap]
        return sorted(chosen, key=lambda e: e.index)


def record_atoms(args: str) -> set[str]:
    """The values of a call that can name a record (strings of 3+ characters, integers of 3+ digits), lower-cased:
    what decides whether a read touches a record an earlier write of the episode changed (llm_mock.py)."""
    return {a for a in _atoms(args) if len(a) >= 3 and a not in ("true", "false", "none")}


def _atoms(args: str) -> set[str]:
    """Lower-cased scalar values of a canonical argument string: a cheap similarity measure."""
    try:
        value = json.loads(args)
    except ValueError:
        return set()
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        else:
            out.add(str(v).lower())

    walk(value)
    return out
