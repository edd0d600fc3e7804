"""Start the server: bind rules, the app for a task file, and a background server for tests and notebooks."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthagent.integrations.server.store import ServeLimits
from synthagent.spec.models import Task


class BindRefused(ValueError):
    """A bind the server will not make (a public address without a token)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only trust it if every address it resolves to is loopback
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def check_bind(host: str, token: str | None) -> None:
    """Why: episodes hold hidden user information and run tools; anyone who can reach the port can play them."""
    if not is_loopback(host) and not token:
        raise BindRefused(f"refusing to bind {host} without a token: anyone who can reach it could open sessions. "
                          "Pass --token (or SYNTHAGENT_SERVE_TOKEN), or bind 127.0.0.1")


def build_app(tasks: list[Task], config: Path | None = None, store_dir: Path | None = None, *,
              limits: ServeLimits = ServeLimits(), token: str | None = None) -> Any:
    """The app for a task set, with (user, tools, judge) chosen for its world kinds as `rollout` chooses them."""
    from synthagent.integrations.server.app import create_app
    from synthagent.rollout.policies import build_backends

    user, tools, judge = build_backends(tasks, config, store_dir)
    return create_app(tasks, user, tools, judge, limits=limits, token=token)


@contextmanager
def background(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` from a thread on a free port; yields the base URL. For tests, notebooks and benches."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the environment server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
