"""A minimal headless-Chromium driver over the DevTools protocol, for the report's tests and benchmark.

Chromium is started with `--remote-debugging-pipe`: the protocol then runs over two inherited file
descriptors (3: commands in, 4: replies out) as NUL-separated JSON, so no websocket library, no open
port and no downloaded browser build are needed — only the system `chromium`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """The browser did not answer, or a page script threw."""


def find_chromium() -> str | None:
    """The system Chromium: `$SYNTHAGENT_CHROMIUM` if set, else the first known name on PATH."""
    explicit = os.environ.get("SYNTHAGENT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser with one page. Use as a context manager.

    `events` keeps every protocol event of the page session; `problems()` filters the ones that mean a
    page misbehaved (console errors, uncaught exceptions, failed loads logged as errors).
    """

    def __init__(self, executable: str | None = None, *, width: int = 1400, height: int = 900, timeout: float = 30.0):
        exe = executable or find_chromium()
        if not exe:
            raise BrowserError("chromium not found (install Debian's `chromium` or set SYNTHAGENT_CHROMIUM)")
        self.executable = exe
        self.width, self.height, self.timeout = width, height, timeout
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._next_id = 0
        self._buf = b""
        self._profile = tempfile.mkdtemp(prefix="synthagent-chromium-")
        self._proc: subprocess.Popen[bytes] | None = None
        self._session: str | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Chromium:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # Move the child's ends above fd 4, so that putting one on 3 or 4 cannot clobber the other.
        cmd_r, out_w = (self._high(fd) for fd in (cmd_r, out_w))
        args = [self.executable, *FLAGS, f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}", "--remote-debugging-pipe", "about:blank"]
        def onto_3_and_4() -> None:  # runs in the child before exec; dup2 leaves the copies inheritable
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        self._proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=onto_3_and_4, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self._w, self._r = cmd_w, out_r
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self._viewport(self.height)

    def _viewport(self, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    @staticmethod
    def _high(fd: int) -> int:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return moved

    def close(self) -> None:
        if self._proc is not None:
            try:
                self.call("Browser.close", session=False, timeout=5)
            except Exception:
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._proc = None
        shutil.rmtree(self._profile, ignore_errors=True)

    # ------------------------------------------------------------------------------------------- protocol

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the debugging pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "method" in msg and msg.get("sessionId") == self._session:
            self.events.append((msg["method"], msg.get("params", {})))

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
             timeout: float | None = None) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._dispatch(reply)

    def wait_event(self, method: str, *, since: int = 0, timeout: float | None = None) -> dict[str, Any]:
        """Wait for event `method` among the events recorded from index `since` on."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for name, params in self.events[since:]:
                if name == method:
                    return params
            since = len(self.events)
            self._dispatch(self._read_message(deadline))

    # ------------------------------------------------------------------------------------------ page API

    def add_init_script(self, source: str) -> None:
        """Run `source` in every document before its own scripts (e.g. to trap window.alert)."""
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def goto(self, url: str | Path, *, timeout: float | None = None) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        if isinstance(url, Path):
            url = url.resolve().as_uri()
        mark = len(self.events)
        start = time.monotonic()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigate {url}: {result['errorText']}")
        if result.get("loaderId"):  # none for a same-document (fragment) navigation: no load event comes
            self.wait_event("Page.loadEventFired", since=mark, timeout=timeout)
        return time.monotonic() - start

    def reload(self, *, timeout: float | None = None) -> float:
        mark = len(self.events)
        start = time.monotonic()
        self.call("Page.reload", {"ignoreCache": True})
        self.wait_event("Page.loadEventFired", since=mark, timeout=timeout)
        return time.monotonic() - start

    def eval(self, expression: str) -> Any:
        """Evaluate JS in the page and return its JSON value (promises are awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"script error: {text}")
        return result.get("result", {}).get("value")

    def click(self, selector: str) -> None:
        """Click the first element matching `selector` (a real DOM click, so links navigate)."""
        found = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                          " if (!e) return false; e.click(); return true; })()")
        if not found:
            raise BrowserError(f"no element matches {selector!r}")

    def click_and_wait(self, selector: str) -> None:
        mark = len(self.events)
        self.click(selector)
        self.wait_event("Page.loadEventFired", since=mark)

    def screenshot(self, path: str | Path, *, full_page: bool = True, max_height: int = 6000) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            # Grow the viewport to the page, so sticky and 100vh-sized parts show whole; then restore it.
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            height = max(self.height, min(int(size["height"]) + 1, max_height))
            self._viewport(height)
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            height = max(self.height, min(int(size["height"]) + 1, max_height))
            self._viewport(height)
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        try:
            data = self.call("Page.captureScreenshot", params)["data"]
        finally:
            if full_page:
                self._viewport(self.height)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def mark(self) -> int:
        """A position in the event log, for `problems(since=...)`."""
        return len(self.events)

    def problems(self, since: int = 0) -> list[str]:
        """Console errors, warnings and uncaught exceptions recorded from `since` on, as readable lines."""
        found: list[str] = []
        for name, params in self.events[since:]:
            if name == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                found.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif name == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                found.append(f"console.{params['type']}: {args}")
            elif name == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                e = params["entry"]
                found.append(f"log {e.get('level')}: {e.get('text')} {e.get('url', '')}".strip())
        return found
