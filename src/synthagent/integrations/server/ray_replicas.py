"""Replicas of the environment server on a Ray cluster: one server per replica, placed on the nodes by Ray.

Ray is only the launcher here. Each replica is a Ray actor that builds the app for a task file (as
``synthagent serve`` does) and serves it with uvicorn from a thread, on its node's address; sessions live in
the replica that opened them, so a client sends all of a session's calls to one URL (:meth:`Replicas.pick`
chooses one from the task and seed). A replica lost with its node takes its open sessions with it: Ray starts
the actor again on a live node (``max_restarts``), with a new URL (ask :meth:`Replicas.urls` again), and the
client starts the lost episodes again with the same (task, seed) and replays its messages, which reaches the
same state because episodes are deterministic in (task, seed). A replica that binds a non-loopback address
needs a token (``launch.check_bind``); on several machines point ``store_dir`` at shared storage so every
replica shares the mock tools' mapping M.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthagent.integrations.server.launch import background, build_app, check_bind
from synthagent.spec.io import iter_jsonl
from synthagent.spec.models import Task


class ServeReplica:
    """One server (a Ray actor): the app for ``tasks_path`` on ``host`` (default: this node's address)."""

    def __init__(self, tasks_path: str, config: str | None = None, store_dir: str | None = None,
                 token: str | None = None, host: str | None = None) -> None:
        import ray

        tasks = list(iter_jsonl(Path(tasks_path), Task))
        host = host or ray.util.get_node_ip_address()
        check_bind(host, token)
        app = build_app(tasks, Path(config) if config else None,
                        Path(store_dir) if store_dir else Path(tasks_path).parent / "mock-tools", token=token)
        self._serving = background(app, host)
        self._url = self._serving.__enter__()

    def url(self) -> str:
        return self._url

    def stop(self) -> None:
        self._serving.__exit__(None, None, None)


@dataclass
class Replicas:
    """The actors of :func:`start_replicas` and the URLs they serve on."""

    ray: Any
    actors: list[Any]

    def urls(self, timeout_s: float = 120.0) -> list[str]:
        """The URLs of the replicas that answer (a restarted one has a new URL; a lost one is left out).

        A replica whose node has just died is "unavailable" until Ray notices the death (its health checks
        take tens of seconds) and restarts it elsewhere, so it is asked again until ``timeout_s``; one that is
        dead for good (its restarts used up) is left out at once."""
        exceptions = self.ray.exceptions
        deadline = time.monotonic() + timeout_s
        found = []
        for actor in self.actors:
            while True:
                try:
                    found.append(self.ray.get(actor.url.remote(), timeout=max(1.0, deadline - time.monotonic())))
                except exceptions.ActorUnavailableError:
                    if time.monotonic() < deadline:
                        time.sleep(0.5)
                        continue
                except exceptions.RayError:
                    pass
                break
        return found

    def pick(self, task_id: str, seed: int, urls: list[str]) -> str:
        """The URL for an episode: stable for (task, seed) while the set of URLs stays the same."""
        if not urls:
            raise RuntimeError("no environment server replica is answering")
        digest = hashlib.sha256(f"{task_id}\0{seed}".encode()).digest()
        return urls[int.from_bytes(digest[:8], "big") % len(urls)]

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.get(actor.stop.remote(), timeout=10)
            except self.ray.exceptions.RayError:
                pass
            self.ray.kill(actor, no_restart=True)


def start_replicas(tasks_path: Path, count: int, *, config: Path | None = None, store_dir: Path | None = None,
                   token: str | None = None, host: str | None = None, num_cpus: float = 1,
                   max_restarts: int = 3) -> Replicas:
    """Start ``count`` server replicas spread over the cluster ``ray.init`` joined; paths must be readable
    on every node (shared storage) and are sent absolute."""
    import ray

    if count < 1:
        raise ValueError(f"replicas must be at least 1, got {count}")
    # max_task_retries: a url() asked while Ray has not yet seen the replica die is retried on the restarted one
    actor = ray.remote(num_cpus=num_cpus, max_restarts=max_restarts, max_task_retries=max_restarts,
                       scheduling_strategy="SPREAD")(ServeReplica)
    actors = [actor.remote(str(tasks_path.resolve()), str(config.resolve()) if config else None,
                           str(store_dir.resolve()) if store_dir else None, token, host) for _ in range(count)]
    return Replicas(ray, actors)
