"""How a `train tiny` checkpoint uses a domain's tools, episode by episode (issue 20, transfer).

Success alone says 0.00 in an unseen domain whatever went wrong. This plays greedy episodes per domain (our
runtime, the scripted user, executable tools, the paper's reward) and counts what an unseen domain breaks:
- `working`: episodes with at least one tool call that returned no error;
- `first err`: episodes whose first tool result is an error (a wrong tool name or argument key);
- IDs the model wrote into tool arguments (`XX-123456`): how many are `exact` copies of an ID said earlier in
  the episode, and how many have the right digits under another `prefix` (a training domain's, memorised).
The capped pilot of docs/training.md ("A longer capped pilot") was read this way: in food_delivery no call
worked and no ID was exact, against 29 of 30 working episodes and 65 of 74 exact IDs in hotel, a training
domain.

Run: `python bench/tool_use.py RUN/model-sft --domains hotel,food_delivery [--tasks 30]`
Needs the `train` extra. Not a timed test.
"""

from __future__ import annotations

import json

from checkpoint_probe import load_probe_model, probe_parser  # bench/, beside this script


def id_counts(messages: list) -> tuple[int, int, int]:
    """(IDs the agent wrote into tool arguments, exact copies of an ID seen before, right digits wrong prefix)."""
    from synthagent.train.renames import ID_PATTERN as ID

    seen: set[tuple[str, str]] = set()
    written = exact = prefix = 0
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            for call in message.tool_calls:
                for letters, digits in ID.findall(call.function.arguments):
                    written += 1
                    if (letters, digits) in seen:
                        exact += 1
                    elif digits in {d for _, d in seen}:
                        prefix += 1
        seen.update(ID.findall(message.content or ""))
        for call in message.tool_calls or []:
            seen.update(ID.findall(call.function.arguments))
    return written, exact, prefix


def main() -> None:
    parser = probe_parser(__doc__.splitlines()[0], tasks=30)
    parser.add_argument("--show", type=int, default=0, help="print this many episodes of each domain")
    args = parser.parse_args()

    from synthagent.reward.scorer import reward_config, score
    from synthagent.rollout.hf_policy import HFPolicy
    from synthagent.sim.runtime import run_episode_sync
    from synthagent.sim.tools.executable import ExecutableBackend
    from synthagent.sim.users.scripted import ScriptedUser
    from synthagent.train.splits import procedural_tasks

    model, tokenizer = load_probe_model(args.checkpoint)
    policy = HFPolicy(model, tokenizer, protocol="ask_user", max_new_tokens=64, name="tiny")
    print(f"{'domain':<16} {'episodes':>8} {'success':>8} {'calls':>6} {'working':>8} {'first err':>9} "
          f"{'IDs':>5} {'exact':>6} {'prefix':>7}")
    for domain in args.domains.split(","):
        tasks = procedural_tasks((domain,), (1,), args.tasks, args.seed)
        success = called = working = first_error = written = exact = prefix = 0
        for i, task in enumerate(tasks):
            traj = run_episode_sync(task, policy, ScriptedUser(), ExecutableBackend(), seed=i, max_turns=10)
            success += int(score(task, traj, reward_config("paper")).success)
            results = [m for m in traj.messages if m.role == "tool"]
            called += bool(results)
            working += any(not m.error for m in results)
            first_error += bool(results) and results[0].error
            w, e, p = id_counts(traj.messages)
            written, exact, prefix = written + w, exact + e, prefix + p
            if i < args.show:
                print(f"----- {domain} {task.id}")
                for m in traj.messages[1:]:
                    calls = [json.dumps({"name": c.function.name, "arguments": c.function.arguments})
                             for c in m.tool_calls or []]
                    print(f"  [{m.role}{' error' if m.error else ''}] {(m.content or '')[:200]} {' '.join(calls)}")
        print(f"{domain:<16} {len(tasks):>8} {success:>8} {called:>6} {working:>8} {first_error:>9} "
              f"{written:>5} {exact:>6} {prefix:>7}")


if __name__ == "__main__":
    main()
