"""τ²'s reward for one trial, computed on our trajectory with our cheap exact environment replay.

As `tau2.evaluator.evaluator.evaluate_simulation` (EvaluationType.ALL): a trial that did not end by a
stop signal scores 0; otherwise the reward is the product of the task's reward-basis components, each 0
or 1 — DB (the replayed databases of agent *and* user equal those after the reference actions), ENV_ASSERTION
(every assertion holds on the replayed environment), ACTION (every reference action, of either requestor,
matches some tool call on its `compare_args`), COMMUNICATE (every info string in some agent message,
case-insensitive, commas removed from the message). NL_ASSERTION needs τ²'s LLM judge, which this
protocol does not run: a task with it in its basis is reported as unsupported rather than guessed.

Tool calls are replayed in trajectory order with their requestor, as τ²'s `Environment.set_state` does.
`bench/tau2_eval.py` and the tests compare these verdicts with τ²'s own evaluator on the same trials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from synthagent.integrations.tau2.checks import action_matches
from synthagent.integrations.tau2.env import WORLDS, ActionSpec, Tau2Worlds, env_differences
from synthagent.spec.models import Trajectory

DEFAULT_BASIS = ("DB", "COMMUNICATE")  # τ²'s EvaluationCriteria default
STOPPED = ("user_stop", "agent_stop")


class UnsupportedBasis(ValueError):
    """The task's reward basis needs something this protocol does not run (NL assertions: an LLM judge)."""


@dataclass
class Tau2Verdict:
    reward: float
    parts: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.reward >= 1.0


def reward_basis(task_raw: dict[str, Any]) -> tuple[str, ...]:
    criteria = task_raw.get("evaluation_criteria") or {}
    return tuple(criteria.get("reward_basis") or DEFAULT_BASIS)


def trajectory_calls(trajectory: Trajectory) -> list[tuple[str, str, dict[str, Any]]]:
    """(requestor, tool name, arguments) of every tool call in order; unparseable arguments as {} (as τ² keeps them)."""
    calls = []
    for msg in trajectory.messages:
        if not msg.tool_calls or msg.actor not in ("agent", "user"):
            continue
        requestor = "assistant" if msg.actor == "agent" else "user"
        for call in msg.tool_calls:
            try:
                args = json.loads(call.function.arguments) if call.function.arguments.strip() else {}
            except json.JSONDecodeError:
                args = {}
            calls.append((requestor, call.function.name, args if isinstance(args, dict) else {}))
    return calls


def tau2_verdict(task_raw: dict[str, Any], domain: str, trajectory: Trajectory, termination: str,
                 worlds: Tau2Worlds = WORLDS) -> Tau2Verdict:
    if termination not in STOPPED:
        return Tau2Verdict(0.0, {}, [f"terminated prematurely ({termination}): τ² scores 0"])
    basis = set(reward_basis(task_raw))
    if "NL_ASSERTION" in basis:
        raise UnsupportedBasis(f"τ² task {task_raw.get('id')}: NL_ASSERTION in the reward basis needs τ²'s LLM judge")
    criteria = task_raw.get("evaluation_criteria") or {}
    gold = criteria.get("actions") or []
    calls = trajectory_calls(trajectory)
    verdict = Tau2Verdict(1.0)
    if basis & {"DB", "ENV_ASSERTION"}:
        from tau2.data_model.tasks import EnvAssertion

        initial_state = task_raw.get("initial_state")
        replayed = worlds.replay_env(domain, initial_state, [ActionSpec(n, a, r) for r, n, a in calls])
        if "DB" in basis:
            expected = worlds.expected_env(domain, initial_state, [
                ActionSpec(a["name"], a.get("arguments") or {}, a.get("requestor", "assistant")) for a in gold])
            diffs = env_differences(replayed, expected)
            verdict.parts["db"] = 0.0 if diffs else 1.0
            if diffs:
                verdict.notes.append("database differs from the reference in " + ", ".join(diffs))
        if "ENV_ASSERTION" in basis:
            held = 1.0
            for raw in criteria.get("env_assertions") or []:
                assertion = EnvAssertion.model_validate(raw)
                try:
                    ok = replayed.run_env_assertion(assertion, raise_assertion_error=False)
                except Exception as err:
                    ok = False
                    verdict.notes.append(f"assertion {assertion.func_name} could not run: {err}")
                if not ok:
                    held = 0.0
                    verdict.notes.append(f"assertion {assertion.func_name}({assertion.arguments}) failed")
            verdict.parts["env_assertion"] = held
    if "ACTION" in basis:
        missing = [a["name"] for a in gold
                   if not any(action_matches(a["name"], a.get("arguments") or {}, a.get("compare_args"), n, args)
                              for _, n, args in calls)]
        verdict.parts["action"] = 0.0 if missing else 1.0
        if missing:
            verdict.notes.append("reference actions not taken: " + ", ".join(missing))
    if "COMMUNICATE" in basis:
        said = [(m.content or "").lower().replace(",", "") for m in trajectory.messages if m.actor == "agent"]
        missing = [str(i) for i in criteria.get("communicate_info") or [] if not any(str(i).lower() in s for s in said)]
        verdict.parts["communicate"] = 0.0 if missing else 1.0
        if missing:
            verdict.notes.append("never said: " + ", ".join(missing))
    for value in verdict.parts.values():
        verdict.reward *= value
    return verdict
