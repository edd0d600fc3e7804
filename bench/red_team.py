"""Red team vs. rubrics: can a policy that never does the work get paid?

On N procedural tasks (every domain, difficulties 1–5 in rotation) runs the reference policies (oracle,
eager, silent, random) and the red team (sim/reference.py `RED_TEAM`), scores every episode and
prints, per policy, the mean reward and the share of tasks with reward > 0 — the red team's target is 0 on
every task — and, for any residue, the first few tasks with the items that paid and why.

Then the judged variant (`--judged N`): the same tasks with their sub-goal and interaction checks removed
(as a synthesized task's rubric has none), scored with a judge that passes every item. Grounding still
decides an item when its criterion names a value that never reached the agent; the script prints the red
team's rewards and lists the items the judge alone decided.

Last, the synthesized variant (`--synthesized N`): N tasks made by `synth llm` against the tests' fake
teacher on 127.0.0.1, played with the LLM user, LLM mock tools and LLM judge that fake server simulates
(its judge passes an item only when a tool call returned a result), every policy scored as `rollout` does.

Run: `PYTHONPATH=src python bench/red_team.py --n 10000 --judged 1000 --synthesized 48` (about a minute per
1,000 tasks on one core).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict

from synthagent.reward.scorer import score
from synthagent.sim.reference import RED_TEAM, REFERENCE_POLICIES, reference_policy
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import ScriptedUser
from synthagent.spec.models import ItemVerdict, Task
from synthagent.worlds import GenerationFailed, Knobs, derive_seed, domain_names, generate_task, get_domain


def tasks(n: int, seed: int = 0) -> list[Task]:
    names = domain_names()
    made = []
    for i in range(n):
        domain, level = names[i % len(names)], 1 + (i // len(names)) % 5
        try:
            made.append(generate_task(get_domain(domain), derive_seed(seed, domain, level, i),
                                      Knobs.for_difficulty(level), level))
        except GenerationFailed:
            continue
    return made


def judged(task: Task) -> Task:
    """The task as a synthesized one would be: only forbidden items keep a check, the rest go to a judge."""
    rubric = task.rubric.model_copy(update={
        "subgoals": [i.model_copy(update={"check": None}) for i in task.rubric.subgoals],
        "interactions": [i.model_copy(update={"check": None}) for i in task.rubric.interactions]})
    return task.model_copy(update={"rubric": rubric})


def pass_all(task, trajectory, items):  # noqa: ANN001 - the scorer's judge signature
    return [ItemVerdict(id=item.id, section=section, criterion=item.criterion, met=True, evidence="judge passes all",
                        method="judge") for section, item in items]


def _shape(criterion: str) -> str:
    """What kind of item a procedural criterion is, from its wording."""
    for cue in ("tells the user", "ends with", "A new", "asks the user"):
        if cue in criterion:
            return cue
    return criterion.split(" ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--judged", type=int, default=1_000, help="tasks for the judged variant (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthesized", type=int, default=24, help="fake-teacher tasks for the synthesized "
                        "variant (0: skip)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    made = tasks(args.n, args.seed)
    print(f"{len(made)} tasks ({len(domain_names())} domains, difficulties 1-5) in {time.perf_counter() - t0:.1f}s")
    user, tools = ScriptedUser(), ExecutableBackend()
    print(f"{'policy':<14}{'mean reward':>12}{'share > 0':>11}")
    for name in REFERENCE_POLICIES:
        policy = reference_policy(name)
        rewards, residue = [], []
        for task in made:
            result = score(task, run_episode_sync(task, policy, user, tools, seed=derive_seed(args.seed, task.id)))
            rewards.append(result.reward)
            if result.reward > 0 and name in RED_TEAM:
                residue.append((task, [v for v in result.items if v.met and v.section != "forbidden"]))
        positive = sum(r > 0 for r in rewards) / len(rewards)
        print(f"{name:<14}{sum(rewards) / len(rewards):>12.4f}{positive:>11.4f}")
        for task, items in residue[:5]:
            print(f"    residue {task.domain} d{task.difficulty} {task.id}: "
                  + "; ".join(f"{v.id}: {v.evidence}" for v in items))
    if args.judged:
        judged_run(made[: args.judged], args.seed)
    if args.synthesized:
        synthesized_run(args.synthesized, args.seed)


def synthesized_run(n: int, seed: int) -> None:
    """Red team on teacher-made tasks: LLM user, LLM mock tools and LLM judge, all from the fake server."""
    import asyncio
    import json
    import sys
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "tests"), str(root / "tests" / "synth_llm")]
    import synth_fake_teacher as fake
    from fakeserver import FakeOpenAIServer
    from typer.testing import CliRunner

    from synthagent.cli import app
    from synthagent.rollout.policies import build_backends
    from synthagent.reward.scorer import score_episode
    from synthagent.sim.runtime import run_episode
    from synthagent.spec.io import read_jsonl

    tmp = Path(tempfile.mkdtemp(prefix="red-team-synth-"))
    personas = [p for p in fake.synthetic_personas() if fake.fate(p) == "ok"][:n]
    (tmp / "personas.jsonl").write_text("".join(json.dumps({"persona": p}) + "\n" for p in personas))
    with FakeOpenAIServer(fake.responder) as server:
        (tmp / "llm.yaml").write_text(fake.config_yaml(server.base_url, timeout_s=5.0))
        made = CliRunner().invoke(app, ["synth", "llm", "--config", str(tmp / "llm.yaml"), "--personas",
                                        str(tmp / "personas.jsonl"), "--n", str(n), "--out", str(tmp / "synth")])
        assert made.exit_code == 0, made.output
        synthesized = read_jsonl(tmp / "synth" / "tasks.jsonl", Task)
        users, tools, judge = build_backends(synthesized, tmp / "llm.yaml", tmp / "mock-tools")

        async def play(task: Task, name: str) -> float | None:
            traj = await run_episode(task, reference_policy(name), users, tools, seed=derive_seed(seed, task.id))
            await score_episode(task, traj, judge=judge)
            return None if traj.result is None else traj.result.reward

        print(f"\nsynthesized: {len(synthesized)} fake-teacher tasks, LLM user, tools and judge (fake server)")
        print(f"{'policy':<14}{'mean reward':>12}{'share > 0':>11}{'unscored':>10}")
        for name in REFERENCE_POLICIES:
            rewards = [asyncio.run(play(task, name)) for task in synthesized]
            scored = [r for r in rewards if r is not None]
            mean = sum(scored) / len(scored) if scored else float("nan")
            share = sum(r > 0 for r in scored) / len(scored) if scored else float("nan")
            print(f"{name:<14}{mean:>12.4f}{share:>11.4f}{len(rewards) - len(scored):>10}")


def judged_run(made: list[Task], seed: int) -> None:
    user, tools = ScriptedUser(), ExecutableBackend()
    variants = [judged(t) for t in made]
    print(f"\njudged variant: {len(variants)} tasks, sub-goal and interaction items judged, a judge that passes all")
    print(f"{'policy':<14}{'mean reward':>12}{'share > 0':>11}{'judge-only > 0':>16}{'grounded':>10}{'to judge':>10}")
    left: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for name in ["oracle", *RED_TEAM]:
        policy = reference_policy(name)
        rewards, judge_only, decided, asked = [], 0, 0, 0
        for task in variants:
            trajectory = run_episode_sync(task, policy, user, tools, seed=derive_seed(seed, task.id))
            result = score(task, trajectory, judge=pass_all)
            rewards.append(result.reward)
            decided += sum(v.evidence.startswith("grounding:") for v in result.items)
            asked += sum(v.method == "judge" and v.section != "forbidden" for v in result.items)
            if result.reward > 0 and name != "oracle":
                judge_only += 1
                for v in result.items:
                    if v.method == "judge" and v.section != "forbidden":
                        key = f"{name} {v.section}: {_shape(v.criterion)}"
                        left[key] += 1
                        examples.setdefault(key, v.criterion)
        n = len(variants)
        print(f"{name:<14}{sum(rewards) / n:>12.4f}{sum(r > 0 for r in rewards) / n:>11.4f}{judge_only:>16}"
              f"{decided:>10}{asked:>10}")
    print("grounded: judged items failed by grounding without the judge; to judge: sub-goal and interaction items "
          "the judge alone decided")
    print("items the judge alone decided where a red-team episode scored > 0 (count, example):")
    for key, count in left.most_common():
        print(f"    {count:>6}  {key}: {examples[key]}")
    by_kind: dict[str, int] = defaultdict(int)
    for task in variants:
        for section, items in task.rubric.sections():
            for item in items:
                if item.check is None:
                    by_kind[section] += 1
    print("judged items in the variant: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items())))


if __name__ == "__main__":
    main()
