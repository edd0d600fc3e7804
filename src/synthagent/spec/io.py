"""JSONL reading and writing with errors that name the file, the line and the field.

Writers append one record per line and flush, so a crash loses at most the line being written; readers
can tolerate exactly that (a truncated final line) when resuming, and nothing else.

Importers never abort on one bad record: given `on_reject`, a reader reports each bad record as a
`FormatError` and goes on; `RejectsLog` writes them to `<out>.rejects.jsonl` (file, record number, field,
reason, one per line) and summarizes them. Strict readers (no `on_reject`) still raise on the first one,
which is what `--strict` keeps.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class FormatError(ValueError):
    """A record that does not parse. The message names file, line and field, ready for a user."""

    def __init__(self, path: str | os.PathLike[str], line: int, field: str | None, reason: str):
        self.path, self.line, self.field, self.reason = str(path), line, field, reason
        where = f"{self.path}:{line}"
        super().__init__(f"{where}: field '{field}': {reason}" if field else f"{where}: {reason}")


def _describe(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "<record>"
    return field, first.get("msg", "invalid value")


def parse_record(model: type[M], data: object, path: str | os.PathLike[str] = "<memory>", line: int = 1) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        field, msg = _describe(err)
        raise FormatError(path, line, field, msg) from None


OnReject = Callable[[FormatError], None]


def iter_jsonl(path: str | os.PathLike[str], model: type[M], *, tolerate_truncated_tail: bool = False,
               on_reject: OnReject | None = None) -> Iterator[M]:
    """Yield validated records. A truncated last line is skipped only when `tolerate_truncated_tail`; any
    other bad line raises `FormatError`, or, given `on_reject`, is handed to it and skipped."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    with p.open("r", encoding="utf-8") as fh:
        lines = fh.readlines()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                is_tail = number == len(lines) and not raw.endswith("\n")
                if tolerate_truncated_tail and is_tail:
                    return
                raise FormatError(p, number, None, f"invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(data, dict):
                raise FormatError(p, number, None, f"expected a JSON object, got {type(data).__name__}")
            record = parse_record(model, data, p, number)
        except FormatError as err:
            if on_reject is None:
                raise
            on_reject(err)
            continue
        yield record


def read_jsonl(path: str | os.PathLike[str], model: type[M], *, tolerate_truncated_tail: bool = False,
               on_reject: OnReject | None = None) -> list[M]:
    return list(iter_jsonl(path, model, tolerate_truncated_tail=tolerate_truncated_tail, on_reject=on_reject))


def rejects_path(out: str | os.PathLike[str]) -> Path:
    """Where an import into `out` lists its rejected records: `tasks.jsonl` → `tasks.rejects.jsonl`."""
    p = Path(out)
    return p.with_name(f"{p.stem if p.suffix else p.name}.rejects.jsonl")


class RejectsLog:
    """Collects the records an import skipped (as `FormatError`s) and writes them, one JSON object a line:
    {"file", "record", "field", "reason"}. Pass `log.add` as a reader's `on_reject`."""

    def __init__(self) -> None:
        self.errors: list[FormatError] = []

    def add(self, err: FormatError) -> None:
        self.errors.append(err)

    def __len__(self) -> int:
        return len(self.errors)

    def rows(self) -> list[dict[str, object]]:
        return [{"file": e.path, "record": e.line, "field": e.field, "reason": e.reason} for e in self.errors]

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (also when empty, so a rerun never leaves an old list beside new output)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows()), encoding="utf-8")
        os.replace(tmp, p)
        return p

    def summary(self, limit: int = 5) -> str:
        """'N rejected: field (reason) ×k, …', the most common first; empty when nothing was rejected."""
        if not self.errors:
            return ""
        counts = Counter(f"{e.field or '<record>'}: {e.reason}" for e in self.errors)
        shown = "; ".join(f"{what} ×{n}" if n > 1 else what for what, n in counts.most_common(limit))
        more = f"; {len(counts) - limit} more kinds" if len(counts) > limit else ""
        return f"{len(self.errors)} rejected ({shown}{more})"


def dump_line(record: BaseModel) -> str:
    return json.dumps(record.model_dump(mode="json", exclude_none=False), ensure_ascii=False, sort_keys=False) + "\n"


def write_jsonl(path: str | os.PathLike[str], records: Iterable[BaseModel]) -> int:
    """Write atomically: a temp file renamed into place, so an old file is never half-overwritten."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(dump_line(record))
                n += 1
        os.replace(tmp, p)
    except BaseException:  # a folder at `path`, a full disk, Ctrl-C: no .tmp is left behind
        tmp.unlink(missing_ok=True)
        raise
    return n


class JsonlAppender:
    """Append records one at a time, flushed per line: the on-disk form of resumable long work."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._fh = self.path.open("a", encoding="utf-8")

    def _repair_tail(self) -> None:
        """Cut a line left half-written by a crash, so the next record starts on its own line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            data = fh.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            fh.seek(cut)
            fh.truncate()

    def write(self, record: BaseModel) -> None:
        self._fh.write(dump_line(record))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
