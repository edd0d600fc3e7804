"""The issue-2 acceptance figures over 10,000 generated tasks (a test uses fewer).

Prints: tasks attempted/kept/rejected with reasons, hidden values visible to the agent (must be 0),
distinct instructions (target ≥ 95%), and self-test pass rate. Run: `python bench/worlds_10k.py [N]`.
"""

from __future__ import annotations

import collections
import json
import sys
import time

from synthagent.spec.models import Task
from synthagent.synth.procedural import ProceduralPlan, iter_tasks
from synthagent.worlds import domain_names


def visible_leaks(task: Task) -> int:
    visible = "\n".join([task.instruction, json.dumps([t.openai() for t in task.tools]), *task.policy]).lower()
    return sum(str(slot.value).lower() in visible for slot in task.private_info)


def main(n: int = 10_000) -> None:
    plan = ProceduralPlan(domains=tuple(domain_names()), n=n, seed=2026)
    t0 = time.perf_counter()
    kept, reasons = [], collections.Counter()
    for item in iter_tasks(plan):
        if isinstance(item, Task):
            kept.append(item)
        else:
            reasons[f"{item.stage}: {item.reason[:90]}"] += 1
    elapsed = time.perf_counter() - t0
    leaks = sum(visible_leaks(t) for t in kept)
    distinct = len({t.instruction for t in kept})
    print(f"attempted {n} tasks over {len(plan.domains)} domains in {elapsed:.1f} s ({n / elapsed:.0f} tasks/s, one core, "
          "including self-tests)")
    print(f"kept {len(kept)}, rejected {n - len(kept)} (every rejection has a reason)")
    for reason, count in reasons.most_common(10):
        print(f"  {count:6d}  {reason}")
    print(f"hidden slot values visible in instruction/tools/policy: {leaks}")
    print(f"distinct instructions: {distinct}/{len(kept)} = {distinct / max(len(kept), 1):.2%}")
    per_level = collections.Counter(t.difficulty for t in kept)
    print("kept per difficulty:", dict(sorted(per_level.items())))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
