"""The issue's Ray check: a 3-node local cluster, one node killed during ``synth llm``, and the final files
compared byte for byte with an uninterrupted single-node run with the same seed.

Each node is a separate ``ray start`` process group on this machine (``tests/ray_cluster.py``); the teacher is
the local fake (``tests/synth_llm/synth_fake_teacher.py``). Prints the figures as JSON: timings, which node was
killed and how far its shard had got, where every attempt at every shard ran, and whether ``tasks.jsonl`` and
``rejected.jsonl`` are identical. Needs Ray (the ``ray`` extra); about 1.5 GB of memory for the three nodes.

    python bench/ray_node_loss.py [--personas 24] [--latency-ms 20] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "synth_llm"))

from ray_node_loss import node_loss_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--personas", type=int, default=24)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=None, help="keep the run folders here (default: a temporary one)")
    args = parser.parse_args()
    if args.work is not None:
        figures = node_loss_scenario(args.work, personas=args.personas, latency_s=args.latency_ms / 1000)
    else:
        with tempfile.TemporaryDirectory(prefix="ray-node-loss-") as tmp:
            figures = node_loss_scenario(Path(tmp), personas=args.personas, latency_s=args.latency_ms / 1000)
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["tasks_identical"] and figures["rejected_identical"] and figures["complete"] else 1)


if __name__ == "__main__":
    main()
