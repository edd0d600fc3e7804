"""``--backend ray``: the same pipeline, sharded over a Ray cluster.

Units are split by index (unit i goes to shard ``i % shards``); each shard is one Ray task that runs the
ordinary asyncio pipeline (``unit_runner.work_through``) with its own state folder (``OUT/shards/<i>/``) and,
unless the config names one, its own LLM cache, and returns its outcomes. The driver (``driver.py``) commits
them in persona order, as for the asyncio backend, so the accepted set, near-duplicate decisions included, is
the same as a single-machine run's. Rerunning with the same ``--shards`` resumes every shard where it stopped
(on a multi-node cluster, when ``OUT`` is on a shared file system). ``--concurrency`` applies per shard; a
``token_budget`` is split evenly across the shards (as across ``--workers``), so the whole run never spends
more than it. Paths handed to the shards are absolute: a worker's working directory is the driver's only on a
local cluster.

Losing a node (or a worker process) loses nothing. Ray runs a shard again when the process running it dies
(``max_retries``, default 3; each attempt is one line in ``OUT/shards/<i>/attempts.jsonl``: node, host, pid),
and the new attempt, wherever Ray places it, resumes the shard from its per-unit state files, so the units the
lost node had finished are not redone and the ones it had half done restart at the stage they were in (the LLM
cache replays the calls already made). That needs ``OUT`` on storage every node sees. A shard whose attempts are
all used up is reported as lost (``stopped: "shard_lost"`` in ``summary.json``, exit code 3 from the command)
while the other shards finish; rerunning the same command resumes it. Either way the committed files are the
ones an uninterrupted run writes, byte for byte.

Ray is an optional extra (only Ray core is used: ``ray.init``/``remote``/``wait``/``get``); without it this
backend fails with an error saying how to install it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.driver import Progress, SynthRun, budget_share, synthesis_run
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.options import SynthOptions
from synthagent.synth.llm.outcome import Outcome
from synthagent.synth.llm.unit_runner import RunState, work_through

INSTALL_HINT = "pip install 'ray>=2.9'  (or install synthagent with its 'ray' extra)"
SHARD_RETRIES = 3
"""How many times Ray runs a shard again after the process or node running it died (Ray's own default)."""
ATTEMPTS_FILE = "attempts.jsonl"


class RayUnavailable(RuntimeError):
    """``--backend ray`` was asked for but Ray cannot be imported."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(f"--backend ray needs Ray, which is not installed ({exc}); install it with: "
                             f"{INSTALL_HINT}; or use the default --backend asyncio") from None
    return ray


def run_shard(config_json: dict[str, Any], units_json: list[dict[str, Any]], shard_dir: str,
              options_json: dict[str, Any]) -> dict[str, Any]:
    """One Ray task: the asyncio pipeline over a shard's units; returns their outcomes as JSON."""
    record_attempt(Path(shard_dir), len(units_json))
    return asyncio.run(_shard(LLMConfig.model_validate(config_json), [Unit.model_validate(u) for u in units_json],
                              Path(shard_dir), SynthOptions(**options_json)))


def record_attempt(shard_dir: Path, units: int) -> None:
    """One line per attempt at a shard, so a user (and the node-loss tests) can see where each attempt ran
    and that a lost one was run again. Best effort: the record must never be what fails a shard."""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except Exception:  # noqa: BLE001 - outside a Ray worker (tests calling run_shard directly)
        node = None
    line = json.dumps({"time": round(time.time(), 3), "node": node, "host": socket.gethostname(),
                       "pid": os.getpid(), "units": units})
    shard_dir.mkdir(parents=True, exist_ok=True)
    with open(shard_dir / ATTEMPTS_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def read_attempts(shard_dir: Path) -> list[dict[str, Any]]:
    """The attempts ``record_attempt`` wrote for a shard, oldest first."""
    path = shard_dir / ATTEMPTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def _shard(config: LLMConfig, units: list[Unit], shard_dir: Path, options: SynthOptions) -> dict[str, Any]:
    shard_dir.mkdir(parents=True, exist_ok=True)
    cache = config.cache_path or shard_dir / "cache.sqlite"
    outcomes: list[Outcome] = []
    sessions: list[dict[str, Any]] = []
    run_state = RunState()
    await work_through(config.model_copy(update={"concurrency": options.concurrency, "cache_path": cache}),
                       shard_dir, options, units, lambda outcome, _client: outcomes.append(outcome), run_state,
                       sessions.append)
    return {"outcomes": [o.to_message() for o in outcomes], "errors": run_state.errors,
            "stopped": run_state.stopped, "session": sessions[0]}


def run_ray(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
            address: str | None = None, shards: int | None = None, max_retries: int = SHARD_RETRIES,
            on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Shard the pipeline over Ray and commit the results in persona order; returns the summary.

    ``max_retries``: how often a shard whose process or node died is run again before it counts as lost."""
    if max_retries < 0:
        raise ValueError(f"--ray-retries must be at least 0, got {max_retries}")
    ray = import_ray()
    with synthesis_run(config, personas, out, options, on_progress) as run:
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True)
        count = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
        run.backend = {"name": "ray", "shards": count}
        _run_shards(ray, run, count, max_retries)
    return run.summary


def _run_shards(ray: Any, run: SynthRun, count: int, max_retries: int) -> None:
    """Submit one Ray task per non-empty shard and feed each shard's results to the driver as it ends; a
    shard lost for good (its process or node died more often than ``max_retries``) is an error, not a crash."""
    groups = {i: [u for u in run.todo if u.index % count == i] for i in range(count)}
    share: dict[str, Any] = {}
    if run.config.cache_path is not None:
        share["cache_path"] = run.config.cache_path.resolve()
    share.update(budget_share(run.config, count))
    config_json = run.config.model_copy(update=share).model_dump(mode="json")
    shards_dir = run.out.resolve() / "shards"
    # retry_exceptions stays off: an exception inside a shard is a bug that another attempt would repeat
    task = ray.remote(run_shard).options(max_retries=max_retries, retry_exceptions=False)
    shard_of = {task.remote(config_json, [u.model_dump() for u in group], str(shards_dir / str(i)),
                            asdict(run.options)): i
                for i, group in groups.items() if group}
    pending = list(shard_of)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        shard = shard_of[done[0]]
        try:
            result = ray.get(done[0])
        except ray.exceptions.RayTaskError:
            raise  # the pipeline itself failed: show it
        except ray.exceptions.RayError as exc:  # the process or node died, and no attempt was left
            tried = len(read_attempts(shards_dir / str(shard)))
            run.run_state.absorb([{"id": None, "index": None,
                                   "error": f"shard {shard} lost after {tried} attempt(s): {type(exc).__name__}: "
                                            f"{str(exc).splitlines()[0] if str(exc) else ''}"}], "shard_lost")
            run.report()
            continue
        for data in result["outcomes"]:
            run.offer(Outcome.from_message(data))
        run.run_state.absorb(result["errors"], result["stopped"])
        run.add_session(result["session"], shard)
        run.report()
