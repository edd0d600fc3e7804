"""Policy trees in the procedural worlds: branches, their self-tests, adversarial scripted users, the
persuaded policy, the --mix knob and the obtainability gate (worlds/branching.py, synth/procedural.py)."""

from __future__ import annotations

import pytest

from synthagent.reward.scorer import score
from synthagent.reward.selftest import self_test
from synthagent.sim.metrics import user_metrics
from synthagent.sim.reference import OraclePolicy, reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import Rejection
from synthagent.synth import procedural
from synthagent.synth.obtainability import untraceable
from synthagent.worlds import BranchMix, DomainError, Knobs, domain_names, generate_task, get_domain, load_domain

KINDS = ("act", "refuse", "transfer", "alternative")


def _task(domain: str, seed: int, kind: str, adversarial: float = 0.0, level: int = 2):
    return generate_task(get_domain(domain), seed, Knobs.for_difficulty(level), level,
                         BranchMix(**{kind: 1.0}, adversarial=adversarial))


def _play(task, policy: str) -> float:
    return score(task, run_episode_sync(task, reference_policy(policy), ScriptedUser(), ExecutableBackend())).reward


def test_an_all_zero_mix_changes_no_task() -> None:
    for domain in domain_names():
        for seed in range(3):
            plain = generate_task(get_domain(domain), seed, Knobs.for_difficulty(3), 3)
            zero = generate_task(get_domain(domain), seed, Knobs.for_difficulty(3), 3, BranchMix())
            assert plain.id == zero.id and plain.branch is None and plain.policy_tree is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_domain_samples_each_leaf_and_its_self_tests_hold(kind: str) -> None:
    for domain in domain_names():
        task = _task(domain, 7, kind, adversarial=0.5)
        assert task.branch is not None and task.branch.kind == kind and task.policy_tree is not None
        assert task.branch.illegal == (kind != "act")
        assert task.policy[-1 - len(task.policy_tree.rules) - 1:-1] == task.policy_tree.lines()
        report = self_test(task)
        assert report.passed, (domain, report.reasons)
        assert report.rewards["gold"] == 1.0 and report.rewards["do_nothing"] == 0.0
        assert _play(task, "persuaded") == (0.0 if task.branch.illegal else 1.0), domain
        assert _play(task, "silent") == 0.0


def test_rubric_forbids_the_leaves_not_taken() -> None:
    task = _task("retail", 3, "refuse")
    forbidden = {i.id: i.check.args.get("tool") for i in task.rubric.forbidden if i.check}
    assert forbidden["branch-not-allowed-cancel_order"] == "cancel_order"
    assert "branch-not-allowed-transfer_to_human_agent" in forbidden
    assert "branch-not-allowed-issue_store_credit" in forbidden
    rule = task.policy_tree.rule(task.branch.rule)
    assert rule is not None and rule.otherwise == "refuse"
    # the refusal must name the deciding value, which only the evidence tool shows
    refuse_item = next(i for i in task.rubric.subgoals if i.check and i.check.op == "answer_contains")
    assert refuse_item.check.args["values"][0] not in task.instruction


def test_adversarial_user_pushes_after_a_refusal_without_leaking() -> None:
    seen = set()
    for seed in range(40):
        task = _task("airline", seed, "refuse", adversarial=1.0)
        assert task.branch.adversary is not None and task.slot("adversarial_claim") is not None
        assert task.branch.claim not in task.instruction
        seen.add(task.branch.adversary)
        run = run_episode_sync(task, OraclePolicy(), ScriptedUser(), ExecutableBackend())
        pushes = [m.content for m in run.messages if m.actor == "user" and task.branch.claim.rstrip(".") in
                  (m.content or "")]
        assert pushes, task.branch.adversary
        metrics = user_metrics(task, run)
        assert metrics["user_leaks"] == 0 and metrics["premature_stop"] == 0
        assert score(task, run).reward == 1.0
    assert seen == {"claims_status", "pressure", "insists", "forbidden_action"}


def test_the_persuaded_policy_does_the_illegal_action() -> None:
    task = _task("telecom", 4, "transfer", adversarial=1.0)
    run = run_episode_sync(task, reference_policy("persuaded"), ScriptedUser(), ExecutableBackend())
    called = [c.function.name for m in run.messages for c in (m.tool_calls or [])]
    assert "suspend_line" in called and "transfer_to_human_agent" not in called
    args = task.branch.persuaded_args["suspend_line"]
    assert all(str(v) in task.instruction or v == task.world.db["line"].get(v, {}).get("line_id", v)
               for k, v in args.items() if k != "line_id")


def test_mix_parsing_and_domain_tree_errors() -> None:
    assert BranchMix.parse("refuse=0.5,adversarial=1").refuse == 0.5
    with pytest.raises(ValueError, match="nonsense"):
        BranchMix.parse("nonsense=1")
    with pytest.raises(ValueError, match="more than 1"):
        BranchMix.parse("act=0.6,refuse=0.6")
    from synthagent.worlds.domains.retail import DOMAIN

    bad = {**DOMAIN, "trees": [{**DOMAIN["trees"][0], "rules": [{**DOMAIN["trees"][0]["rules"][0], "field": "status"}]}]}
    with pytest.raises(DomainError, match=r"retail\.trees\[0\]\.rules\[0\]\.field"):
        load_domain(bad)


def test_obtainability_over_mixed_tasks_and_a_planted_argument_is_rejected(monkeypatch) -> None:
    plan = procedural.ProceduralPlan(domains=tuple(domain_names()), n=120, mix="act=0.25,refuse=0.25,transfer=0.25,"
                                     "alternative=0.25,adversarial=0.5")
    items = list(procedural.iter_tasks(plan))
    tasks = [t for t in items if not isinstance(t, Rejection)]
    assert len(tasks) >= 110 and not [r for r in items if isinstance(r, Rejection) and r.stage == "obtainability"]
    for task in tasks[:30]:
        run = run_episode_sync(task, OraclePolicy(), ScriptedUser(), ExecutableBackend())
        assert untraceable(task, run.messages) == []

    planted = tasks[0].model_copy(deep=True)
    call = next(a for a in planted.gold if a.kind == "call" and a.tool != planted.gold[0].tool and a.arguments)
    key = next(iter(call.arguments))
    call.arguments[key] = "ZZ-PLANTED-999"
    monkeypatch.setattr(procedural, "generate_task", lambda *a, **k: planted)
    monkeypatch.setattr(procedural, "self_test", lambda task: _passing(task))
    rejected = procedural.make_task(plan, 0)
    assert isinstance(rejected, Rejection) and rejected.stage == "obtainability"
    assert "ZZ-PLANTED-999" in rejected.reason and call.tool in rejected.reason


def _passing(task):
    report = self_test(task)
    report.passed, report.reasons = True, []
    return report
