"""``--backend ray``: the same pipeline, sharded over a Ray cluster.

Units are split by index (unit i goes to shard ``i % shards``); each shard is one Ray task that runs the
ordinary asyncio pipeline (``pipeline.run_units``) with its own state folder (``OUT/shards/<i>/``) and,
unless the config names one, its own LLM cache, and returns its outcomes. The driver commits them in persona
order with the same :class:`~synthagent.synth.llm.pipeline.Committer` as the asyncio backend, so the
accepted set, near-duplicate decisions included, is the same as a single-machine run's. Rerunning with the
same ``--shards`` resumes every shard where it stopped (on a multi-node cluster, when ``OUT`` is on a
shared file system). ``--concurrency`` applies per shard; a ``token_budget`` is split evenly across the
shards (as across ``--workers``), so the whole run never spends more than it. Paths handed to the shards are
absolute: a worker's working directory is the driver's only on a local cluster.

Ray is an optional extra (only Ray core is used: ``ray.init``/``remote``/``wait``/``get``); without it this
backend fails with an error saying how to install it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from synthagent.llm.client import LLMClient
from synthagent.llm.config import LLMConfig
from synthagent.synth.llm.models import Unit
from synthagent.synth.llm.personas import make_units
from synthagent.synth.llm.pipeline import (
    Committer,
    Engine,
    Outcome,
    Progress,
    RunState,
    SynthOptions,
    budget_share,
    build_summary,
    merge_sessions,
    run_units,
    session_figures,
    validate_roles,
)
from synthagent.synth.llm.state import atomic_write_json, check_manifest

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
    client = LLMClient(config.model_copy(update={"concurrency": options.concurrency, "cache_path": cache}))
    outcomes: list[Outcome] = []
    run_state = RunState()
    started = time.perf_counter()
    try:
        await run_units(Engine(client, shard_dir, options), units, options.concurrency, outcomes.append, run_state,
                        options.max_unit_errors)
    finally:
        session = session_figures(client, time.perf_counter() - started)
        await client.aclose()
    return {"outcomes": [{"unit": o.unit.model_dump(), **o.to_json()} for o in outcomes],
            "errors": run_state.errors, "stopped": run_state.stopped, "session": session}


def run_ray(config: LLMConfig, personas: list[str], out: Path, options: SynthOptions = SynthOptions(), *,
            address: str | None = None, shards: int | None = None,
            on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Shard the pipeline over Ray and commit the results in persona order; returns the summary."""
    ray = import_ray()
    validate_roles(config)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, options.manifest(config))
    units = make_units(personas, options.n, options.seed)
    committer = Committer(out, units, options.dedup_threshold)
    todo = units[committer.next:]
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True)
    count = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
    groups = {i: [u for u in todo if u.index % count == i] for i in range(count)}
    task = ray.remote(run_shard)
    share: dict[str, Any] = {}
    if config.cache_path is not None:
        share["cache_path"] = config.cache_path.resolve()
    share.update(budget_share(config, count))
    config_json = config.model_copy(update=share).model_dump(mode="json")
    shards_dir = out.resolve() / "shards"
    refs = [task.remote(config_json, [u.model_dump() for u in group], str(shards_dir / str(i)), asdict(options))
            for i, group in groups.items() if group]
    progress = Progress(total=len(units), finished=committer.next)
    run_state = RunState()
    sessions: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            result = ray.get(done[0])
            for data in result["outcomes"]:
                committer.offer(Outcome.from_json(Unit.model_validate(data["unit"]), data))
                progress.finished += 1
            run_state.errors.extend(result["errors"])
            run_state.stopped = run_state.stopped or result["stopped"]
            sessions.append(result["session"])
            if on_progress is not None:
                progress.accepted, progress.discarded = committer.stats.accepted, committer.stats.discarded
                progress.errors = len(run_state.errors)
                progress.calls = sum(s["endpoint_calls"] for s in sessions)
                progress.tokens = sum(s["tokens_spent"] for s in sessions)
                on_progress(progress)
    finally:
        committer.close()
        session = merge_sessions(sessions, time.perf_counter() - started)
        summary = build_summary(out, units, committer, run_state, options, config, session)
        summary["backend"] = {"name": "ray", "shards": count}
        atomic_write_json(out / "summary.json", summary)
    return summary
