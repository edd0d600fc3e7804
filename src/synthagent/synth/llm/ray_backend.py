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

Ray is an optional extra (only Ray core is used: ``ray.init``/``remote``/``wait``/``get``); without it this
backend fails with an error saying how to install it.
"""

from __future__ import annotations

import asyncio
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
    return asyncio.run(_shard(LLMConfig.model_validate(config_json), [Unit.model_validate(u) for u in units_json],
                              Path(shard_dir), SynthOptions(**options_json)))


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
            address: str | None = None, shards: int | None = None,
            on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Shard the pipeline over Ray and commit the results in persona order; returns the summary."""
    ray = import_ray()
    with synthesis_run(config, personas, out, options, on_progress) as run:
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True)
        count = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
        run.backend = {"name": "ray", "shards": count}
        _run_shards(ray, run, count)
    return run.summary


def _run_shards(ray: Any, run: SynthRun, count: int) -> None:
    """Submit one Ray task per non-empty shard and feed each shard's results to the driver as it ends."""
    groups = {i: [u for u in run.todo if u.index % count == i] for i in range(count)}
    share: dict[str, Any] = {}
    if run.config.cache_path is not None:
        share["cache_path"] = run.config.cache_path.resolve()
    share.update(budget_share(run.config, count))
    config_json = run.config.model_copy(update=share).model_dump(mode="json")
    shards_dir = run.out.resolve() / "shards"
    task = ray.remote(run_shard)
    pending = [task.remote(config_json, [u.model_dump() for u in group], str(shards_dir / str(i)),
                           asdict(run.options))
               for i, group in groups.items() if group]
    shard = 0
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        result = ray.get(done[0])
        for data in result["outcomes"]:
            run.offer(Outcome.from_message(data))
        run.run_state.absorb(result["errors"], result["stopped"])
        run.add_session(result["session"], shard)
        shard += 1
        run.report()
