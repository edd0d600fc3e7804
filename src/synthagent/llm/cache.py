"""On-disk SQLite cache of chat completions.

A synthesis run of tens of thousands of tasks gets interrupted and rerun; every completion it already paid
for must come back from disk, so the rerun makes no endpoint calls. The key is a sha256 of the full request
(model, messages, tools and every sampling parameter) plus an optional salt, so k samples of one prompt
stay k entries.

One connection per process, serialised by a lock (calls are sub-millisecond and the client is a single
event loop, so this never becomes the bottleneck); WAL mode and a busy timeout let several processes share
one file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Final

CACHE_FORMAT: Final = 1
"""Bumped when the key derivation or the stored record changes, so old entries are never misread."""


def cache_key(request: dict[str, Any], salt: str | int | None = None) -> str:
    """sha256 over a canonical JSON rendering of the request; transport settings must not be in it."""
    payload = {"format": CACHE_FORMAT, "request": request, "salt": None if salt is None else str(salt)}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """A key → JSON record store in one SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=60000")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, record TEXT NOT NULL, created REAL NOT NULL)"
            )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT record FROM completions WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, record: dict[str, Any]) -> None:
        blob = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO completions (key, record, created) VALUES (?, ?, ?)",
                (key, blob, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
