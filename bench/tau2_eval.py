"""`eval tau2` against τ² gold: pass^1 of a gold-replaying policy, of one that skips the final write, and the
agreement of our τ²-basis verdicts with τ²'s own evaluator on the same trials — all three domains.

The policy is tests/tau2_gold_policy.py behind the local fake OpenAI server; the user is the scripted gold
user (it performs telecom's user actions on the device). τ²'s evaluator needs pandas (the tau2 extra).

    python bench/tau2_eval.py [--domains airline,retail,telecom] [--every 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from tau2_gold_policy import run_gold, write_tools  # noqa: E402

from synthagent.integrations.tau2 import load_raw_tasks, tau2_reward, to_tau2_messages  # noqa: E402


def has_final_write(task_raw: dict, writes: set[str]) -> bool:
    return any(a.get("requestor", "assistant") == "assistant" and a["name"] in writes
               for a in (task_raw.get("evaluation_criteria") or {}).get("actions") or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default="airline,retail,telecom")
    parser.add_argument("--every", type=int, default=1, help="τ²'s evaluator on every Nth trial only (it is slow)")
    args = parser.parse_args()
    for domain in args.domains.split(","):
        raw = load_raw_tasks(domain, "base")
        writes = write_tools(domain)
        with_write = {str(t["id"]) for t in raw if has_final_write(t, writes)}
        for variant, skip in (("gold", False), ("skip-final-write", True)):
            start = time.perf_counter()
            trials = run_gold(domain, raw, skip_final_write=skip)
            wall = time.perf_counter() - start
            scored = [t for t in trials if t.verdict is not None]
            passed = [str(t.task_raw["id"]) for t in scored if t.verdict.success]
            line = f"{domain:8s} {variant:17s} pass^1 {len(passed)}/{len(trials)} (unscored {len(trials) - len(scored)})"
            if skip:
                wrong = sorted(set(passed) & with_write)
                line += f"; tasks with an assistant write: {len(with_write)}, of them passing: {len(wrong)} {wrong}"
            else:
                failed = sorted({str(t.task_raw["id"]) for t in trials} - set(passed))
                line += f"; failing: {failed}"
            agree = total = 0
            theirs_s = 0.0
            disagreements = []
            for i, t in enumerate(scored):
                if i % args.every:
                    continue
                t0 = time.perf_counter()
                theirs, _ = tau2_reward(t.task_raw, domain, to_tau2_messages(t.trajectory))
                theirs_s += time.perf_counter() - t0
                total += 1
                if (theirs >= 1.0) == t.verdict.success:
                    agree += 1
                else:
                    disagreements.append(str(t.task_raw["id"]))
            print(f"{line}; eval wall {wall:.1f} s")
            print(f"{'':8s} {'':17s} agreement with τ²'s evaluator: {agree}/{total}"
                  f"{' disagree on ' + str(disagreements) if disagreements else ''}; τ² evaluator {theirs_s:.1f} s"
                  f" ({1000 * theirs_s / max(total, 1):.0f} ms/trial)")


if __name__ == "__main__":
    main()
