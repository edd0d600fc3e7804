"""`synthagent eval tau2`: k trials of every task of a τ² domain under τ²'s protocol, scored as τ² scores.

The result names what makes two runs comparable: the τ² package version and a fingerprint of the
protocol read from it (prompts, stop signals, limits), a fingerprint of the task set, the policy and
user-simulator models, the seed and the per-trial seeds (drawn as τ² draws them). Verdicts go through
`rollout.metrics.summarize`, so pass^1…pass^k come with bootstrap intervals over tasks and per-task
verdict flips, and unscored trials (an endpoint that failed for good) are counted apart, by role.

`protocol="strict"` keeps our stricter success rule available on the same trials: τ²'s reward and, in
addition, every reference write of the assistant called (τ²'s DB basis alone forgives a skipped write
that changes nothing, e.g. retail tasks 12 and 105).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from synthagent.integrations.tau2.checks import action_matches
from synthagent.integrations.tau2.env import WORLDS, Tau2Worlds
from synthagent.integrations.tau2.orchestrate import Tau2Agent, Tau2UserSim, TrialContext, run_trial
from synthagent.integrations.tau2.protocol import Tau2Protocol, load_protocol, tasks_fingerprint
from synthagent.integrations.tau2.verdict import Tau2Verdict, UnsupportedBasis, tau2_verdict, trajectory_calls
from synthagent.spec.models import ItemVerdict, RubricResult, Trajectory

Protocol = Literal["tau2", "strict"]


@dataclass
class Trial:
    task_raw: dict[str, Any]
    trial: int
    seed: int
    trajectory: Trajectory
    termination: str
    verdict: Tau2Verdict | None  # None: unscored (a fault) or a basis this protocol cannot score


def strict_verdict(task_raw: dict[str, Any], domain: str, trajectory: Trajectory, verdict: Tau2Verdict,
                   worlds: Tau2Worlds = WORLDS) -> Tau2Verdict:
    """τ²'s verdict, and every reference write of the assistant matched by an agent call."""
    kinds = worlds.describe(domain)[2]
    calls = [(n, a) for r, n, a in trajectory_calls(trajectory) if r == "assistant"]
    missing = [a["name"] for a in (task_raw.get("evaluation_criteria") or {}).get("actions") or []
               if a.get("requestor", "assistant") == "assistant" and kinds.get(a["name"]) == "write"
               and not any(action_matches(a["name"], a.get("arguments") or {}, a.get("compare_args"), n, args)
                           for n, args in calls)]
    parts = {**verdict.parts, "reference_writes": 0.0 if missing else 1.0}
    notes = verdict.notes + ([f"reference writes not called: {', '.join(missing)}"] if missing else [])
    return Tau2Verdict(verdict.reward * parts["reference_writes"], parts, notes)


def _result(task_id: str, verdict: Tau2Verdict) -> RubricResult:
    items = [ItemVerdict(id=f"tau2-{name}", section="forbidden", criterion=f"τ² {name} component",
                         met=value >= 1.0, evidence="; ".join(verdict.notes)) for name, value in verdict.parts.items()]
    return RubricResult(task_id=task_id, items=items, gate=1.0 if verdict.success else 0.0, subgoal_fraction=None,
                        interaction_fraction=None, reward=verdict.reward, success=verdict.success)


async def run_trials(domain: str, tasks_raw: list[dict[str, Any]], agent: Tau2Agent, user: Tau2UserSim, *,
                     k: int, seed: int, protocol: Protocol = "tau2", concurrency: int = 8,
                     max_steps: int | None = None, max_errors: int | None = None,
                     worlds: Tau2Worlds = WORLDS, rules: Tau2Protocol | None = None) -> list[Trial]:
    rules = rules or load_protocol()
    policy_text, agent_tools, _ = worlds.describe(domain)
    template = worlds.fresh_env(domain)
    user_tools = [t.openai_schema for t in template.get_user_tools()] if template.user_tools is not None else None
    agent_schemas = [t.openai_schema for t in agent_tools]
    from tau2.data_model.tasks import UserScenario

    seeds = rules.trial_seeds(seed, k)
    gate = asyncio.Semaphore(concurrency)

    async def one(task_raw: dict[str, Any], trial: int) -> Trial:
        async with gate:
            scenario = str(UserScenario.model_validate(task_raw["user_scenario"]))
            ctx = TrialContext(task_raw=task_raw, domain=domain, trial=trial, seed=seeds[trial],
                               agent_tools=agent_schemas, user_tools=user_tools,
                               agent_system=rules.agent_system_prompt(policy_text),
                               user_system=rules.user_system_prompt(scenario, with_tools=user_tools is not None))
            outcome = await run_trial(ctx, agent, user, rules, policy_label=agent.label, max_steps=max_steps,
                                      max_errors=max_errors, worlds=worlds)
        trajectory = outcome.trajectory
        verdict = None
        if not trajectory.unscored:
            try:
                verdict = tau2_verdict(task_raw, domain, trajectory, outcome.reason, worlds)
            except UnsupportedBasis as err:
                trajectory.meta["unsupported"] = str(err)
            if verdict is not None and protocol == "strict":
                verdict = strict_verdict(task_raw, domain, trajectory, verdict, worlds)
            if verdict is not None:
                trajectory.result = _result(trajectory.task_id, verdict)
        return Trial(task_raw, trial, seeds[trial], trajectory, outcome.reason, verdict)

    jobs = [(t, i) for t in tasks_raw for i in range(k)]
    order = sorted(range(len(jobs)), key=lambda j: -expected_length(jobs[j][0]))  # stable: ties keep input order
    done = await asyncio.gather(*(one(*jobs[j]) for j in order))
    trials: list[Trial | None] = [None] * len(jobs)
    for j, trial in zip(order, done):
        trials[j] = trial
    return trials  # type: ignore[return-value]  # every slot filled: `order` is a permutation


def expected_length(task_raw: dict[str, Any]) -> int:
    """How long a trial of this task is likely to run, known before it runs: its reference actions.

    Why it matters: trials are started in this order, longest first. In input order a long task that
    happens to come last starts when the others are done and runs alone at the end; with `concurrency`
    slots, longest-first packing leaves a tail no longer than the shortest trials (bench/eval_throughput.py:
    efficiency 0.70 → see docs/tau2.md for the figures).
    """
    return len((task_raw.get("evaluation_criteria") or {}).get("actions") or [])


def report(domain: str, split: str, tasks_raw: list[dict[str, Any]], trials: list[Trial], *, k: int, seed: int,
           protocol: Protocol, policy: str, user_model: str, rules: Tau2Protocol | None = None) -> dict[str, Any]:
    """The eval's JSON: what was run (comparable or visibly not), pass^k with intervals, flips, faults, trials."""
    from synthagent.rollout.metrics import per_task_outcomes, summarize

    rules = rules or load_protocol()
    summary = summarize([t.trajectory for t in trials]).get(policy, {})
    summary.pop("by_difficulty", None)
    per_task = per_task_outcomes((str(t.task_raw["id"]), t.trajectory, t.termination) for t in trials)
    faults: dict[str, int] = defaultdict(int)
    for t in trials:
        if t.trajectory.fault is not None:
            faults[t.trajectory.fault.role] += 1
    scored = [t for t in trials if t.verdict is not None]
    return {
        "benchmark": {**rules.describe(), "domain": domain, "split": split, "tasks": len(tasks_raw),
                      "tasks_fingerprint": tasks_fingerprint(tasks_raw)},
        "protocol": protocol,
        "policy": policy,
        "user_simulator": user_model,
        "seed": seed,
        "trial_seeds": rules.trial_seeds(seed, k),
        "k": k,
        "trials": len(trials),
        "scored": len(scored),
        "agent_failures": sum(1 for t in scored if not t.verdict.success),  # type: ignore[union-attr]
        "unscored": sum(1 for t in trials if t.trajectory.fault is not None),
        "simulator_faults": faults.get("user", 0),
        "faults_by_role": dict(sorted(faults.items())),
        "unsupported": sum(1 for t in trials if "unsupported" in t.trajectory.meta),
        "summary": summary,
        "per_task": per_task,
        "trial_results": [{"task_id": str(t.task_raw["id"]), "trial": t.trial, "seed": t.seed,
                           "termination": t.termination,
                           "reward": None if t.verdict is None else t.verdict.reward,
                           "success": None if t.verdict is None else t.verdict.success,
                           "parts": None if t.verdict is None else t.verdict.parts,
                           "notes": [] if t.verdict is None else t.verdict.notes,
                           "fault": None if t.trajectory.fault is None else t.trajectory.fault.model_dump()}
                          for t in trials],
    }
