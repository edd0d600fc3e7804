"""The same trajectories under both reward presets (paper, authors): prints the markdown tables in docs/rubrics.md.

The demo's tasks (5 per procedural domain, seed 0) and the four reference policies, one episode each;
every trajectory is scored once per preset from the same verdicts. Usage: python bench/reward_presets.py
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from synthagent.reward.scorer import REWARD_PRESETS, aggregate, programmatic_verdicts, section_fractions
from synthagent.sim.reference import REFERENCE_POLICIES, reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.io import read_jsonl
from synthagent.spec.models import Task
from synthagent.synth.procedural import ProceduralPlan, synthesize_to_file
from synthagent.worlds import derive_seed, domain_names


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}".rstrip("0").rstrip(".") if x not in (0.0, 1.0) else f"{x:.0f}"


def main(per_domain: int = 5, seed: int = 0) -> None:
    names = tuple(domain_names())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        synthesize_to_file(ProceduralPlan(domains=names, n=per_domain * len(names), seed=seed), path)
        tasks = read_jsonl(path, Task)
    rows = []  # (policy, task, fractions, {preset: result})
    for name in REFERENCE_POLICIES:
        for task in tasks:
            traj = run_episode_sync(task, reference_policy(name), ScriptedUser(), ExecutableBackend(),
                                    seed=derive_seed(seed, task.id, 0))
            verdicts, for_judge = programmatic_verdicts(task, traj)
            assert not for_judge, "procedural tasks compile every item to a check"
            rows.append((name, task, section_fractions(verdicts),
                         {p: aggregate(task.id, verdicts, cfg) for p, cfg in REWARD_PRESETS.items()}))

    presets = list(REWARD_PRESETS)
    print(f"{len(tasks)} tasks ({per_domain} per domain, seed {seed}), one episode per policy\n")
    print("| policy | " + " | ".join(f"mean reward ({p}) | success ({p})" for p in presets) + " |")
    print("|---|" + "---|---|" * len(presets))
    by_policy = defaultdict(list)
    for row in rows:
        by_policy[row[0]].append(row)
    for name, group in by_policy.items():
        cells = []
        for p in presets:
            rewards = [r[3][p].reward for r in group]
            cells += [f"{sum(rewards) / len(rewards):.3f}", f"{sum(r[3][p].success for r in group) / len(group):.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")

    # one trajectory per distinct (policy, reward under each preset): where the two formulas part
    print("\n| policy | task | forbidden met | sub-goals met | interactions met | " +
          " | ".join(f"reward ({p})" for p in presets) + " |")
    print("|---|---|---|---|---|" + "---|" * len(presets))
    seen = set()
    for name, task, fr, results in rows:
        key = (name, *(results[p].reward for p in presets))
        if key in seen:
            continue
        seen.add(key)
        print(f"| {name} | {task.domain} {task.id[:8]} | {fmt(fr['forbidden'])} | {fmt(fr['subgoals'])} | "
              f"{fmt(fr['interactions'])} | " + " | ".join(fmt(results[p].reward) for p in presets) + " |")
    differ = sum(r[3]["paper"].reward != r[3]["authors"].reward for r in rows)
    print(f"\n{differ} of {len(rows)} trajectories get a different reward under the two presets")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
