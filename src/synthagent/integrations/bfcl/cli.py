"""`synthagent eval bfcl`: BFCL-v4 multi-turn accuracy of a policy, scored as BFCL's checker scores."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import typer

from synthagent.command_errors import console, fail

NO_USER_SIMULATOR = "none (BFCL's user turns are fixed text)"


def register_eval(evaluate: typer.Typer) -> None:
    """Add `bfcl` to the `eval` group (integrations/cli.py owns the group)."""

    @evaluate.command("bfcl")
    def bfcl_cmd(
        policy: str = typer.Option(..., help="openai:MODEL (the endpoint from --base-url or the config's policy role)."),
        category: str = typer.Option("base", help="base | miss_func | miss_param | long_context"),
        config: Optional[Path] = typer.Option(None, help="LLM config YAML (its `policy` role)."),
        base_url: Optional[str] = typer.Option(None, help="The policy's OpenAI-compatible endpoint."),
        k: int = typer.Option(1, min=1, help="Trials per entry."),
        seed: int = typer.Option(0, help="Seed sent with every policy call."),
        limit: Optional[int] = typer.Option(None, min=1, help="Only the first N entries."),
        concurrency: int = typer.Option(8, min=1, help="Entries in flight."),
        out: Path = typer.Option(Path("bfcl-eval.json"), help="Results JSON to write."),
        html: bool = typer.Option(True, help="Also write the results as an HTML page beside the JSON (OUT.html)."),
        irrelevance: bool = typer.Option(False, help="Also fail a run that calls functions in a turn whose ground "
                                                     "truth is empty: BFCL's multi_turn_irrelevance_checker, which "
                                                     "BFCL defines but its own eval runner does not apply."),
    ) -> None:
        """Play BFCL's multi-turn entries with native tool calls on its executable APIs; pass^k with intervals."""
        from synthagent.integrations.bfcl.data import (BfclUnavailable, class_functions, entries_fingerprint,
                                                       load_entries, package_version, rules_fingerprint)
        from synthagent.report.evals import EvalResult, write_eval_page

        if not policy.startswith("openai:") or not policy[7:]:
            fail(f"--policy: {policy!r}: BFCL needs a model behind an endpoint, openai:MODEL")
        try:
            entries = load_entries(category)
            docs = class_functions()
        except (BfclUnavailable, ValueError, OSError) as err:
            fail(str(err))
        entries = entries[:limit] if limit else entries
        report = asyncio.run(_run(entries, docs, policy[7:], config, base_url, k, seed, concurrency, irrelevance))
        report = {"benchmark": {"benchmark": "BFCL-v4 multi-turn", "package": "bfcl-eval", "version": package_version(),
                                "category": category, "entries": len(entries), "tasks": len(entries),
                                "tasks_fingerprint": entries_fingerprint(entries),
                                "protocol_fingerprint": rules_fingerprint()},
                  "protocol": "bfcl+irrelevance" if irrelevance else "bfcl", "policy": policy[7:],
                  "user_simulator": NO_USER_SIMULATOR, "seed": seed, "k": k, **report}
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        if html:
            write_eval_page([EvalResult.model_validate(report)], out.with_suffix(".html"),
                            title=f"BFCL {category} · {policy[7:]}")
        s = report["summary"]
        console.print(f"BFCL {category} (bfcl-eval {report['benchmark']['version']}), policy {policy[7:]}: "
                      f"pass^1 {s.get('pass^1', 'n/a')}, {report['unscored']} unscored; results in {out}"
                      + (f" and {out.with_suffix('.html')}" if html else ""),
                      highlight=False, markup=False)


async def _run(entries, docs, model, config, base_url, k, seed, concurrency, irrelevance) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from synthagent.integrations.bfcl.runner import run_entry
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import ConfigError, load_config
    from synthagent.rollout.metrics import per_task_outcomes, summarize
    from synthagent.rollout.openai_policy import PolicyOptions, policy_role
    from synthagent.spec.models import RubricResult, Trajectory

    try:
        client = LLMClient(policy_role(model, base_url, load_config(config) if config else None, PolicyOptions()))
    except (ConfigError, ValueError, OSError) as err:
        fail(str(err))
    gate = asyncio.Semaphore(concurrency)

    async def one(entry, trial):  # type: ignore[no-untyped-def]
        async with gate:
            return await run_entry(entry, client, docs, trial=trial, seed=seed, irrelevance=irrelevance)

    try:
        runs = await asyncio.gather(*(one(e, t) for e in entries for t in range(k)))
    finally:
        await client.aclose()
    trajectories = []
    for run in runs:
        result = None if run.verdict is None else RubricResult(
            task_id=run.entry.id, items=[], gate=1.0 if run.verdict.valid else 0.0, subgoal_fraction=None,
            interaction_fraction=None, reward=1.0 if run.verdict.valid else 0.0, success=run.verdict.valid)
        trajectories.append(Trajectory(task_id=run.entry.id, domain=f"bfcl-{run.entry.category}", policy=model,
                                       sample=run.trial, seed=seed, messages=[], termination="fault" if run.fault
                                       else "answer", result=result, fault=run.fault))
    summary = summarize(trajectories).get(model, {})
    summary.pop("by_difficulty", None)
    faults = Counter(r.fault.role for r in runs if r.fault is not None)
    scored = [r for r in runs if r.verdict is not None]
    return {"trials": len(runs), "scored": len(scored), "agent_failures": sum(1 for r in scored if not r.verdict.valid),
            "unscored": sum(faults.values()), "simulator_faults": 0, "faults_by_role": dict(sorted(faults.items())),
            "summary": summary,
            "per_task": per_task_outcomes((t.task_id, t, t.termination) for t in trajectories),
            "trial_results": [{"task_id": r.entry.id, "trial": r.trial, "seed": seed,
                               "termination": "fault" if r.fault else "answer",
                               "reward": None if r.verdict is None else float(r.verdict.valid),
                               "success": None if r.verdict is None else r.verdict.valid,
                               "fault": None if r.fault is None else r.fault.model_dump()} for r in runs],
            "runs": [{"id": r.entry.id, "trial": r.trial, "valid": None if r.verdict is None else r.verdict.valid,
                      "error_type": None if r.verdict is None else r.verdict.error_type,
                      "message": None if r.verdict is None else r.verdict.message,
                      "fault": None if r.fault is None else r.fault.message} for r in runs]}
