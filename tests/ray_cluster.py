"""A real multi-node Ray cluster on this machine, for the node-loss tests and bench: one ``ray start --head``
and further ``ray start --address`` processes, each a node with its own raylet, object store and workers.

Why process groups: every node is started with ``--block`` in a new session, so all of its processes (the
``ray start`` monitor, raylet, agents, the workers running our shards) share one process group. Killing that
group with SIGKILL is what a machine losing power looks like to the rest of the cluster, and closing the
cluster ends exactly the processes this helper started, never another Ray on the machine (no ``ray stop``,
which kills every Ray process of the user by name).

The cluster is private: its own temporary folder, free ports picked here, no dashboard, usage stats off and
token authentication off (``RAY_AUTH_MODE=disabled``: it listens on this machine only; a real cluster should
keep tokens, see docs/synthesis.md). ``PYTHONPATH`` carries this checkout's ``src`` to every node, as a real
cluster needs synthagent installed on each node.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the nodes and of drivers that join them."""
    env = dict(os.environ)
    env.update({"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)})
    env.update(extra or {})
    return env


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the node's leader is its group's id

    node_id: str | None = None
    """Ray's id of the node, read from its raylet's command line once it runs (see :func:`raylet_node_id`)."""

    def alive(self) -> bool:
        return self.process.poll() is None


def _processes() -> dict[int, tuple[int, int, Path]]:
    """pid -> (parent pid, process group, /proc folder) of every process we can see."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            table[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), stat.parent)
        except (OSError, IndexError, ValueError):
            continue
    return table


def node_processes(pgid: int) -> list[int]:
    """Every process of the node led by ``pgid``: its group and all their descendants. Why descendants: the
    raylet starts workers in process groups of their own, and a worker whose raylet died can still finish
    its task and hand the result to the driver, which would make a killed node look like a live one."""
    table = _processes()
    found = {pid for pid, (_, group, _) in table.items() if group == pgid}
    grew = True
    while grew:
        children = {pid for pid, (parent, _, _) in table.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_group(pgid: int) -> None:
    """SIGKILL every process of a node's group, again while any is left (at most five rounds): a dying raylet
    may have started a worker meanwhile."""
    for _ in range(5):
        pids = node_processes(pgid)
        if not pids:
            return
        kill_all(pids)
        time.sleep(0.1)


def raylet_node_id(pgid: int) -> str | None:
    """The ``--node_id`` of the raylet in process group ``pgid``. Why /proc: Ray starts its workers in
    process groups of their own, so a shard's pid does not tell which node it runs on, but the node id
    that every shard attempt records does, and each node's raylet carries it on its command line."""
    for _, group, folder in _processes().values():
        if group != pgid:
            continue
        try:
            argv = (folder / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/raylet"):
            for arg in argv:
                if arg.startswith(b"--node_id="):
                    return arg.split(b"=", 1)[1].decode()
    return None


class LocalRayCluster:
    """Start nodes with :meth:`add_node`, kill one with :meth:`kill`, end them all with :meth:`close`."""

    def __init__(self, root: Path, *, cpus_per_node: int = 1, object_store_mb: int = 80) -> None:
        self.root = root
        # Ray's sockets live under its temporary folder and a Unix socket path may not exceed 107 bytes, so a
        # short folder of its own rather than one under ``root`` (pytest's tmp_path is already long)
        self.temp = Path(tempfile.mkdtemp(prefix="sa-ray-", dir="/tmp"))
        self.cpus = cpus_per_node
        self.object_store = object_store_mb * 1024**2
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Node] = []

    def __enter__(self) -> "LocalRayCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """The environment for a driver (``synth llm --backend ray``) that joins this cluster."""
        return cluster_env({"RAY_ADDRESS": self.address})

    def add_node(self, timeout_s: float = 120.0) -> Node:
        """Start a node (the head first) and wait until it says it has joined."""
        self.root.mkdir(parents=True, exist_ok=True)
        head = not self.nodes
        name = "head" if head else f"worker{len(self.nodes)}"
        log = self.root / f"{name}.log"
        args = [str(RAY), "start", "--block", f"--num-cpus={self.cpus}", f"--object-store-memory={self.object_store}",
                "--disable-usage-stats", f"--dashboard-agent-listen-port={free_port()}",
                f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}"]
        if head:
            args += ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}",
                     f"--ray-client-server-port={free_port()}", "--node-ip-address=127.0.0.1"]
        else:
            args += [f"--address={self.address}", "--node-ip-address=127.0.0.1"]
        with open(log, "wb") as sink:
            process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=cluster_env(), start_new_session=True, cwd=self.root)
        node = Node(name, process, log)
        self.nodes.append(node)
        deadline = time.monotonic() + timeout_s
        while b"Ray runtime started" not in log.read_bytes():
            if not node.alive():
                raise RuntimeError(f"ray node {name} exited with {process.returncode}; see {log}:\n"
                                   + log.read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                raise TimeoutError(f"ray node {name} did not start within {timeout_s:.0f} s; see {log}")
            time.sleep(0.5)
        node.node_id = raylet_node_id(node.pgid)
        if node.node_id is None:
            raise RuntimeError(f"ray node {name} started but no raylet with a node id is in its process group")
        return node

    def node_of(self, node_id: str | None) -> Node | None:
        """Our node with Ray's id ``node_id`` (as a shard attempt records it), if it is one of ours."""
        return next((n for n in self.nodes if node_id is not None and n.node_id == node_id), None)

    def kill(self, node: Node) -> None:
        """Every process of the node (workers included) at once, with no chance to clean up: a machine lost."""
        kill_group(node.pgid)
        node.process.wait(30)

    def close(self) -> None:
        """End the nodes this cluster started: workers first, then the head; SIGTERM, then SIGKILL."""
        for node in reversed(self.nodes):
            if node.alive():
                try:
                    os.killpg(node.pgid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 15
        for node in reversed(self.nodes):
            while node.alive() and time.monotonic() < deadline:
                time.sleep(0.2)
        for node in reversed(self.nodes):  # what outlived its leader (raylet, agents, workers) goes now
            kill_group(node.pgid)
            node.process.wait(10)
        self.nodes.clear()
        shutil.rmtree(self.temp, ignore_errors=True)
