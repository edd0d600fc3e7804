"""Programmatic rubric checks for τ²-bench's evaluation criteria.

Each check has the signature of `synthagent.reward.checks` — (Facts, args) → (met, evidence, message
index) — and is registered under its `Check.op`:

- tau2_db_match (forbidden section): the episode's tool calls, replayed through τ²'s own domain
  environment from the task's initial state, leave the same database as τ²'s reference actions (τ²'s
  DB reward). `args`: {"actions": [{"name", "arguments", "requestor"}, …]}. `met` = the databases match.
- tau2_env_assertion (forbidden section): one of τ²'s env assertions holds on the replayed environment
  (τ²'s ENV_ASSERTION reward). `args`: {"assertion": {env_type, func_name, arguments, assert_value,
  message}}.
- tau2_action (sub-goal): some agent tool call matches a reference action on the arguments τ² compares
  (`compare_args`; all arguments when null), by Python equality as τ² does; whether the call succeeded
  does not matter, as in τ². `args`: {"name", "arguments", "compare_args"}.
- communicated (sub-goal): an agent message contains `info`, compared as τ² does: case-insensitively,
  with commas removed from the message (not from `info`). `args`: {"info"}.

tau2_action and communicated need no τ² installation. The two environment checks replay the episode
once per scoring (the replay is kept on the Facts object) and compare against a memoised reference
state, so scoring costs a few milliseconds instead of τ²'s two environment builds and two whole-database
hashes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from synthagent.spec.models import Check
from synthagent.spec.worlds import Tau2World

if TYPE_CHECKING:
    from synthagent.reward.checks import Facts

Verdict = tuple[bool, str, "int | None"]

DB_MATCH = "tau2_db_match"
ENV_ASSERTION = "tau2_env_assertion"
ACTION = "tau2_action"
COMMUNICATED = "communicated"
OPS = (DB_MATCH, ENV_ASSERTION, ACTION, COMMUNICATED)


def make_check(op: str, args: dict[str, Any]) -> Check:
    return Check(op=op, args=args)


# ------------------------------------------------------------------------------ episode facts


def _agent_calls(f: "Facts") -> list[tuple[int, str, dict[str, Any] | None]]:
    """(message index, tool name, parsed arguments or None) of every agent tool call, in order."""
    calls = []
    for index, msg in enumerate(f.trajectory.messages):
        if msg.actor != "agent" or not msg.tool_calls:
            continue
        for call in msg.tool_calls:
            try:
                args = json.loads(call.function.arguments) if call.function.arguments.strip() else {}
            except (json.JSONDecodeError, AttributeError):
                args = None
            calls.append((index, call.function.name, args if isinstance(args, dict) else None))
    return calls


def _tau2_world(f: "Facts") -> Tau2World:
    world = f.task.world
    if not isinstance(world, Tau2World):
        raise ValueError(f"task {f.task.id}: a {world.kind} world; τ² checks need a task imported from τ²")
    return world


def _replayed(f: "Facts") -> Any:
    """The τ² environment after this episode's agent calls; built once per Facts object."""
    env = getattr(f, "_tau2_env", None)
    if env is None:
        from synthagent.integrations.tau2.env import WORLDS, ActionSpec

        world = _tau2_world(f)
        calls = [ActionSpec(name, args) for _, name, args in _agent_calls(f) if args is not None]
        env = WORLDS.replay_env(world.domain, world.initial_state, calls)
        f._tau2_env = env  # type: ignore[attr-defined]  # Facts is a plain per-scoring dataclass
    return env


def _last_write_index(f: "Facts") -> int | None:
    kinds = {t.name: t.kind for t in f.task.tools}
    writes = [i for i, name, _ in _agent_calls(f) if kinds.get(name) == "write"]
    return writes[-1] if writes else None


# ------------------------------------------------------------------------------------ checks


def tau2_db_match(f: "Facts", args: dict[str, Any]) -> Verdict:
    from synthagent.integrations.tau2.env import WORLDS, ActionSpec, env_differences

    world = _tau2_world(f)
    gold = [ActionSpec(a["name"], a.get("arguments") or {}, a.get("requestor", "assistant"))
            for a in args.get("actions", [])]
    expected = WORLDS.expected_env(world.domain, world.initial_state, gold)
    diffs = env_differences(_replayed(f), expected)
    index = _last_write_index(f)
    if diffs:
        return False, "the final database differs from the reference in " + ", ".join(diffs), index
    return True, "the final database equals the reference end state", index


def tau2_env_assertion(f: "Facts", args: dict[str, Any]) -> Verdict:
    from tau2.data_model.tasks import EnvAssertion

    assertion = EnvAssertion.model_validate(args["assertion"])
    label = f"{assertion.func_name}({json.dumps(assertion.arguments, sort_keys=True)}) is {assertion.assert_value}"
    try:
        held = _replayed(f).run_env_assertion(assertion, raise_assertion_error=False)
    except Exception as err:  # an assertion that cannot run counts as failed, with the reason
        return False, f"{label}: could not be evaluated ({type(err).__name__}: {err})", None
    return (True, f"{label} holds", None) if held else (False, f"{label} does not hold", None)


def action_matches(name: str, arguments: dict[str, Any], compare_args: list[str] | None,
                   call_name: str, call_args: dict[str, Any]) -> bool:
    """τ²'s `Action.compare_with_tool_call`, on plain values."""
    if name != call_name:
        return False
    keys = list(call_args) if compare_args is None else compare_args
    if not keys:
        return True
    return ({k: v for k, v in call_args.items() if k in keys}
            == {k: v for k, v in arguments.items() if k in keys})


def tau2_action(f: "Facts", args: dict[str, Any]) -> Verdict:
    name, arguments, compare = args["name"], args.get("arguments") or {}, args.get("compare_args")
    for index, call_name, call_args in _agent_calls(f):
        if call_args is not None and action_matches(name, arguments, compare, call_name, call_args):
            return True, f"{name} called with the expected arguments", index
    shown = {k: v for k, v in arguments.items() if compare is None or k in compare}
    return False, f"no call of {name} with {json.dumps(shown, sort_keys=True)}", None


def communicated(f: "Facts", args: dict[str, Any]) -> Verdict:
    """τ²'s rule (a substring of an agent message) by default, so scores match τ²'s. With `grounded: true`
    (our stricter option, docs/rubrics.md "Grounded answers") the info must first have reached the agent in
    a tool result or a user message after the opening request."""
    info = str(args["info"])
    needle = info.lower()
    for index, msg in enumerate(f.trajectory.messages):
        if msg.actor == "agent" and msg.content and needle in msg.content.lower().replace(",", ""):
            if args.get("grounded") and not any(o.source != "request" and o.message_index < index
                                                and needle in o.text.lower().replace(",", "") for o in f.obtained):
                return False, f"the agent said {info!r} before it ever reached the agent", index
            return True, f"the agent said {info!r}", index
    return False, f"the agent never said {info!r}", None


CHECKS: dict[str, Callable[["Facts", dict[str, Any]], Verdict]] = {
    DB_MATCH: tau2_db_match,
    ENV_ASSERTION: tau2_env_assertion,
    ACTION: tau2_action,
    COMMUNICATED: communicated,
}


def install_checks() -> None:
    """Make the core scorer dispatch our ops (idempotent; `integrations.tau2.kind` calls it on import)."""
    from synthagent.reward.checks import register_check

    for op, fn in CHECKS.items():
        register_check(op, fn)
