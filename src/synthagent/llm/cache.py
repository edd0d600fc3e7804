"""On-disk SQLite cache of chat completions.

A synthesis run of tens of thousands of tasks gets interrupted and rerun; every completion it already paid
for must come back from disk, so the rerun makes no endpoint calls. The key is a sha256 of the full request
(model, messages, tools and every sampling parameter) plus an optional salt, so k samples of one prompt
stay k entries.

At a thousand calls per second, one SQLite statement per lookup and one committed transaction per new
completion would cost a good share of the client's CPU, so:

* the keys present when the cache is opened are read into memory, and so is every key put since; a key
  not among them is a miss without touching SQLite. A completion that *another* process put after this
  one opened the file is therefore not seen, and costs one duplicate endpoint call (processes sharing a
  file work on different units, so this is rare); a rerun opens the file afresh and sees everything.
* new completions are written behind: :meth:`ResponseCache.put` keeps them in memory (where
  :meth:`~ResponseCache.get` finds them) and :meth:`~ResponseCache.flush` writes the batch in one
  transaction. A background thread flushes ``flush_interval_s`` after a put (the write then also stays
  off the event loop), a put flushes at once when ``flush_every`` records wait, and
  :meth:`~ResponseCache.close` flushes the rest. A crash (SIGKILL) therefore loses at most the last
  fraction of a second of completions, which a rerun simply requests again.

One connection per process, serialised by a lock; WAL mode and a busy timeout let several processes share
one file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Final

from synthagent.llm.jsonfast import canonical_json, dumps_bytes, loads

BUSY_TIMEOUT_S: Final = 60.0
"""How long a connection waits for another process's lock before giving up."""

CACHE_FORMAT: Final = 2
"""Bumped when the key derivation or the stored record changes, so old entries are never misread
(2: keys hash orjson's canonical rendering)."""


def cache_key(request: dict[str, Any], salt: str | int | None = None) -> str:
    """sha256 over a canonical JSON rendering of the request; transport settings must not be in it."""
    payload = {"format": CACHE_FORMAT, "request": request, "salt": None if salt is None else str(salt)}
    return hashlib.sha256(canonical_json(payload)).hexdigest()


class ResponseCache:
    """A key → JSON record store in one SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path, *, flush_every: int = 512, flush_interval_s: float = 0.05) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self.flush_error: BaseException | None = None
        """The last error of a background flush (its records stay pending and are tried again)."""
        self._db_lock = threading.Lock()  # the connection, and one flush at a time
        self._lock = threading.Lock()  # the in-memory state below; never held while SQLite works
        self._pending: dict[str, bytes] = {}
        self._flushing: dict[str, bytes] = {}
        self._closed = False
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None  # started by the first put
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        self._keys: set[str] = self._open_retrying()

    def _open_retrying(self) -> set[str]:
        """Set the file up (WAL, the table) and read its keys. SQLite can answer "database is locked" here at
        once, without waiting out the busy timeout, while another process opens or closes the same file (the
        WAL switch and the last connection's checkpoint take locks that bypass the busy handler; seen with
        two `--workers` starting together). Every step is idempotent, so it is tried again until the busy
        timeout has passed."""
        deadline, delay = time.monotonic() + BUSY_TIMEOUT_S, 0.01
        while True:
            try:
                with self._db_lock:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=NORMAL")
                    self._conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
                    self._conn.execute(
                        "CREATE TABLE IF NOT EXISTS completions ("
                        " key TEXT PRIMARY KEY, record TEXT NOT NULL, created REAL NOT NULL)"
                    )
                    return {row[0] for row in self._conn.execute("SELECT key FROM completions")}
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def get(self, key: str) -> dict[str, Any] | None:
        if key not in self._keys:
            return None
        with self._lock:
            blob: bytes | str | None = self._pending.get(key) or self._flushing.get(key)
        if blob is None:
            with self._db_lock:
                row = self._conn.execute("SELECT record FROM completions WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            blob = row[0]
        return loads(blob)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``key``: readable at once, in the file after the next flush."""
        blob = dumps_bytes(record)
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: the cache is closed")
            self._pending[key] = blob
            self._keys.add(key)
            waiting = len(self._pending)
        if waiting >= self.flush_every:
            self.flush()
        elif waiting == 1:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_behind, name="cache-flush", daemon=True)
                self._flusher.start()
            self._wake.set()

    @property
    def pending(self) -> int:
        """Records put but not yet in the file."""
        return len(self._pending) + len(self._flushing)

    def flush(self) -> None:
        """Write every pending record in one transaction (a no-op when none is pending)."""
        with self._db_lock:
            with self._lock:
                if self._closed or not self._pending:
                    return
                self._flushing, self._pending = self._pending, {}
            now = time.time()
            rows = [(key, blob.decode("utf-8"), now) for key, blob in self._flushing.items()]
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO completions (key, record, created) VALUES (?, ?, ?)", rows)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except BaseException:
                with self._lock:  # keep them for the next flush; newer puts of a key win
                    self._pending = {**self._flushing, **self._pending}
                    self._flushing = {}
                raise
            with self._lock:
                self._flushing = {}

    def _flush_behind(self) -> None:
        while True:
            self._wake.wait()
            if self._closed:
                return
            time.sleep(self.flush_interval_s)
            self._wake.clear()  # before flushing: a put that then finds nothing pending wakes the next round
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - reported through flush_error; the records stay pending
                self.flush_error = exc

    def __len__(self) -> int:
        self.flush()
        with self._db_lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        """Flush what is pending and close the file; closing twice is harmless."""
        if self._closed:
            return
        self.flush()
        with self._db_lock, self._lock:
            self._closed = True
            self._conn.close()
        self._wake.set()  # lets the flusher thread end
