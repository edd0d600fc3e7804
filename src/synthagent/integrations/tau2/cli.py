"""`synthagent eval tau2`: measure a policy the way the field does (τ²'s protocol, pass^k with intervals)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer

from synthagent.command_errors import console, fail


def register_eval(evaluate: typer.Typer) -> None:
    """Add `tau2` to the `eval` group (integrations/cli.py owns the group)."""

    @evaluate.command("tau2")
    def tau2_cmd(
        domain: str = typer.Option(..., help="airline | retail | telecom"),
        policy: str = typer.Option(..., help="openai:MODEL (the endpoint from --base-url or the config's policy role)."),
        config: Optional[Path] = typer.Option(None, help="LLM config YAML: the `user` role is τ²'s user simulator; "
                                                         "a `policy` role supplies the policy's endpoint and sampling."),
        base_url: Optional[str] = typer.Option(None, help="The policy's OpenAI-compatible endpoint."),
        k: int = typer.Option(4, min=1, help="Trials per task (pass^1…pass^k)."),
        seed: Optional[int] = typer.Option(None, help="Base seed; per-trial seeds are drawn from it as τ² draws "
                                                      "them (default: τ²'s own default seed)."),
        protocol: str = typer.Option("tau2", help="tau2: τ²'s reward basis; strict: also every reference write "
                                                  "of the assistant called."),
        user: str = typer.Option("llm", help="llm: τ²'s user simulator through --config's user role; gold: the "
                                             "scripted user that performs the user's reference actions (a harness "
                                             "check, not a benchmark figure)."),
        split: str = typer.Option("base", help="τ² task split."),
        tasks: Optional[str] = typer.Option(None, help="Comma-separated τ² task ids to run (default: all)."),
        max_steps: Optional[int] = typer.Option(None, min=1, help="Step limit (default: τ²'s)."),
        max_errors: Optional[int] = typer.Option(None, min=1, help="Tool-error limit (default: τ²'s)."),
        concurrency: int = typer.Option(8, min=1, help="Trials in flight."),
        out: Path = typer.Option(Path("tau2-eval.json"), help="Results JSON to write."),
        html: bool = typer.Option(True, help="Also write the results as an HTML page beside the JSON (OUT.html)."),
        runs: Optional[Path] = typer.Option(None, help="Also write every trial's trajectory as JSONL."),
    ) -> None:
        """Run every task of a τ² domain k times under τ²'s protocol and report pass^k with 95% intervals.

        The agent gets τ²'s system prompt and native tool calls (no answer tag); the user simulator gets
        τ²'s guidelines, stop signals and (telecom) its device tools; limits and reward basis are τ²'s.
        Trials whose endpoint failed for good are unscored and counted apart."""
        from synthagent.integrations.tau2 import Tau2Unavailable, load_raw_tasks
        from synthagent.integrations.tau2.env import domain_info

        if protocol not in ("tau2", "strict"):
            fail(f"--protocol: {protocol!r} is not one of tau2, strict")
        if user not in ("llm", "gold"):
            fail(f"--user: {user!r} is not one of llm, gold")
        if not policy.startswith("openai:") or not policy[7:]:
            fail(f"--policy: {policy!r}: τ²'s protocol needs a model behind an endpoint, openai:MODEL")
        if user == "llm" and config is None:
            fail("--user llm needs --config with a `user` role (τ²'s user simulator model)")
        try:
            domain_info(domain)
            raw = load_raw_tasks(domain, split)
        except (KeyError, ValueError, OSError, Tau2Unavailable) as err:
            fail(str(err))
        if tasks:
            wanted = [t.strip() for t in tasks.split(",") if t.strip()]
            known = {str(t["id"]) for t in raw}
            unknown = [t for t in wanted if t not in known]
            if unknown:
                fail(f"--tasks: no τ² {domain} task with id {', '.join(unknown)}")
            raw = [t for t in raw if str(t["id"]) in set(wanted)]
        report = asyncio.run(_run(domain, split, raw, policy[7:], config, base_url, k, seed, protocol, user,
                                  max_steps, max_errors, concurrency, runs))
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if html:
            from synthagent.report.evals import EvalResult, write_eval_page

            write_eval_page([EvalResult.model_validate(report)], out.with_suffix(".html"),
                            title=f"τ² {domain} · {report['policy']}")
        summary = report["summary"]
        passes = ", ".join(f"pass^{i} {summary[f'pass^{i}']:.3f} [{summary['interval95'][f'pass^{i}'][0]:.3f}, "
                           f"{summary['interval95'][f'pass^{i}'][1]:.3f}]"
                           for i in range(1, k + 1) if f"pass^{i}" in summary)
        console.print(f"τ² {domain} ({report['benchmark']['package']} {report['benchmark']['version']}), policy "
                      f"{report['policy']}, user {report['user_simulator']}, seed {report['seed']}: "
                      f"{passes or 'no scored trials'}; {report['scored']} scored, {report['agent_failures']} agent "
                      f"failures, {report['unscored']} unscored ({report['simulator_faults']} simulator faults); "
                      f"results in {out}" + (f" and {out.with_suffix('.html')}" if html else ""), highlight=False, markup=False)


async def _run(domain, split, raw, model, config, base_url, k, seed, protocol, user, max_steps, max_errors,
               concurrency, runs):  # type: ignore[no-untyped-def]
    from synthagent.integrations.tau2.evaluation import report, run_trials
    from synthagent.integrations.tau2.gold_user import GoldUser
    from synthagent.integrations.tau2.orchestrate import LLMAgent, LLMUser
    from synthagent.integrations.tau2.protocol import load_protocol
    from synthagent.llm.client import LLMClient
    from synthagent.llm.config import ConfigError, load_config
    from synthagent.rollout.openai_policy import PolicyOptions, policy_role
    from synthagent.spec.io import write_jsonl

    rules = load_protocol()
    seed = rules.default_seed if seed is None else seed
    try:
        loaded = load_config(config) if config is not None else None
        policy_client = LLMClient(policy_role(model, base_url, loaded, PolicyOptions()))
        if user == "llm":
            assert loaded is not None
            loaded.role("user")
            user_client = LLMClient(loaded)
    except (ConfigError, ValueError, OSError) as err:
        fail(str(err))
    agent = LLMAgent(policy_client, model)
    simulator = LLMUser(user_client) if user == "llm" else GoldUser(rules.stop_signals[0])
    try:
        trials = await run_trials(domain, raw, agent, simulator, k=k, seed=seed, protocol=protocol,
                                  concurrency=concurrency, max_steps=max_steps, max_errors=max_errors, rules=rules)
    finally:
        await policy_client.aclose()
        if user == "llm":
            await user_client.aclose()
    if runs is not None:
        write_jsonl(runs, [t.trajectory for t in trials])
    return report(domain, split, raw, trials, k=k, seed=seed, protocol=protocol, policy=model,
                  user_model=simulator.label, rules=rules)
