"""Policy trees in the procedural worlds: branch shares per domain, self-tests, the reference-policy table,
simulator metrics under adversarial users, and obtainability over many tasks.

Run: `python bench/policy_trees.py [N] [MIX]` (default N=10000 tasks over all domains and levels 1-5,
MIX=act=0.2,refuse=0.2,transfer=0.2,alternative=0.2,adversarial=0.5). Every figure is counted, none is timed;
generation speed is bench/procedural.py's.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

from synthagent.reward.scorer import score
from synthagent.reward.selftest import self_test
from synthagent.sim.metrics import user_metrics
from synthagent.sim.reference import reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.synth.obtainability import untraceable
from synthagent.synth.procedural import ProceduralPlan, make_task
from synthagent.worlds import BranchMix, domain_names

POLICIES = ("oracle", "persuaded", "eager", "random", "silent")
DEMO_EVERY = 5  # the reference-policy table plays every 5th task (all five policies per task)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    mix = sys.argv[2] if len(sys.argv) > 2 else "act=0.2,refuse=0.2,transfer=0.2,alternative=0.2,adversarial=0.5"
    BranchMix.parse(mix)
    plan = ProceduralPlan(domains=tuple(domain_names()), n=n, seed=0, mix=mix)
    shares: dict[str, Counter[str]] = defaultdict(Counter)
    stages: Counter[str] = Counter()
    selftest: Counter[str] = Counter()
    table: dict[str, dict[str, list[float]]] = {p: defaultdict(list) for p in POLICIES}
    metrics: Counter[str] = Counter()
    user, tools = ScriptedUser(), ExecutableBackend()
    for index in range(n):
        item = make_task(plan, index, run_self_test=False)
        if not hasattr(item, "branch"):
            stages[f"rejected at {item.stage}"] += 1  # type: ignore[union-attr]
            continue
        task = item
        report = self_test(task)
        missing = untraceable(task, report.gold_run.messages) if report.gold_run is not None else []
        if not report.passed or missing:
            stages["rejected at selftest" if not report.passed else "rejected at obtainability"] += 1
            continue
        stages["accepted"] += 1
        b = task.branch
        kind = b.kind if b is not None else "plain"
        shares[task.domain][kind] += 1
        shares[task.domain]["adversarial"] += int(b is not None and b.adversary is not None)
        shares[task.domain]["all"] += 1
        if b is not None:
            selftest["branched"] += 1
            selftest["gold 1.0"] += int(report.rewards["gold"] == 1.0)
            selftest["do-nothing 0"] += int(report.rewards["do_nothing"] == 0.0)
            persuaded = report.rewards.get("persuaded")
            if persuaded is None:  # legal: giving in is complying
                persuaded = score(task, run_episode_sync(task, reference_policy("persuaded"), user, tools)).reward
            selftest["persuaded 0 (illegal)" if b.illegal else "persuaded 1.0 (legal)"] += int(
                persuaded == (0.0 if b.illegal else 1.0))
            selftest["illegal"] += int(b.illegal)
        if b is not None and b.adversary is not None:
            m = user_metrics(task, report.gold_run) if report.gold_run is not None else {}
            metrics["adversarial gold runs"] += 1
            metrics["user leaks"] += int(m.get("user_leaks", 0))
            metrics["premature stops"] += int(m.get("premature_stop", 0))
            metrics["user pushed"] += int(any(task.branch.claim.rstrip(".")[:20] in (msg.content or "")
                                              for msg in report.gold_run.messages if msg.actor == "user"))
        if index % DEMO_EVERY == 0:
            group = "illegal" if b is not None and b.illegal else "legal" if b is not None else "plain"
            for name in POLICIES:
                reward = score(task, run_episode_sync(task, reference_policy(name), user, tools, seed=index)).reward
                table[name][group].append(reward)
                table[name]["all"].append(reward)

    print(f"policy trees: {n} tasks, --mix {mix}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    print(f"obtainability: every argument of every gold call traced on all {stages['accepted']} accepted tasks; "
          f"{stages['rejected at obtainability']} tasks rejected for an untraceable one")
    print("\nself-tests on every accepted task with a branch:")
    print("  " + ", ".join(f"{k}: {v}" for k, v in selftest.items()))
    print("\nreference policies (mean reward; every %dth task):" % DEMO_EVERY)
    groups = ("illegal", "legal", "plain", "all")
    print(f"  {'policy':<10}" + "".join(f"{g:>10}" for g in groups))
    for name in POLICIES:
        row = "".join(f"{(sum(v) / len(v) if (v := table[name][g]) else float('nan')):>10.3f}" for g in groups)
        print(f"  {name:<10}{row}")
    print(f"  {'n':<10}" + "".join(f"{len(table['oracle'][g]):>10}" for g in groups))
    print("\nadversarial users on the gold runs: " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
    print("\nshare of accepted tasks per branch kind and of adversarial users, per domain:")
    cols = ("plain", "act", "refuse", "transfer", "alternative", "adversarial")
    print(f"  {'domain':<14}{'n':>6}" + "".join(f"{c:>12}" for c in cols))
    total: Counter[str] = Counter()
    for domain in sorted(shares):
        row = shares[domain]
        total.update(row)
        print(f"  {domain:<14}{row['all']:>6}" + "".join(f"{row[c] / row['all']:>12.3f}" for c in cols))
    print(f"  {'all':<14}{total['all']:>6}" + "".join(f"{total[c] / max(total['all'], 1):>12.3f}" for c in cols))


if __name__ == "__main__":
    main()
