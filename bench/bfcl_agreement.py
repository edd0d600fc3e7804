"""Our BFCL multi-turn verdicts against BFCL's own `multi_turn_checker`: gold runs of every entry and six
perturbations (tests/bfcl_perturb.py) of every Nth entry, all four categories; for miss_func and miss_param,
calls put into the turns whose ground truth is empty, judged as BFCL's runner does and with its
`multi_turn_irrelevance_checker` (defined by BFCL, not applied by its runner) against `check(irrelevance=True)`.

    python bench/bfcl_agreement.py [--every 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from bfcl_perturb import EMPTY_TURN_KINDS, KINDS, bfcl_verdict, empty_turns, perturb, perturb_empty_turn  # noqa: E402

from synthagent.integrations.bfcl import CATEGORIES, check, load_entries  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args()
    for category in CATEGORIES:
        entries = load_entries(category)
        start = time.perf_counter()
        gold_ours = sum(check(e, e.gold_calls()).valid for e in entries)
        gold_theirs = sum(bfcl_verdict(e, e.gold_calls(), f"bench_gold_{category}") for e in entries)
        agree = total = valid = 0
        for n, entry in enumerate(entries[::args.every]):
            for kind in KINDS:
                run = perturb(entry, kind)
                theirs = bfcl_verdict(entry, run, f"bench_{kind}_{category}_{n}")
                agree += check(entry, run).valid == theirs
                valid += theirs
                total += 1
        print(f"{category:13s} gold valid: ours {gold_ours}/{len(entries)}, BFCL {gold_theirs}/{len(entries)}; "
              f"perturbed: agree {agree}/{total} ({valid} valid by BFCL); {time.perf_counter() - start:.1f} s")
        if not any(empty_turns(e) for e in entries):
            continue
        for irrelevance in (False, True):  # calls in turns whose ground truth is empty, judged both ways
            agree = total = valid = 0
            for n, entry in enumerate(entries[::args.every]):
                for kind in EMPTY_TURN_KINDS:
                    try:
                        run = perturb_empty_turn(entry, kind)
                    except ValueError:
                        continue
                    theirs = bfcl_verdict(entry, run, f"bench_irr_{irrelevance}_{kind}_{category}_{n}", irrelevance)
                    agree += check(entry, run, irrelevance=irrelevance).valid == theirs
                    valid += theirs
                    total += 1
            rule = "with BFCL's irrelevance checker" if irrelevance else "as BFCL's runner scores (turn not judged)"
            print(f"{category:13s} calls in empty-ground-truth turns, {rule}: agree {agree}/{total} "
                  f"({valid} valid by BFCL)")


if __name__ == "__main__":
    main()
