"""What the checkpoint probes (`first_action.py`, `tool_use.py`, `read_schema.py`) share: their command line
(a checkpoint, the domains, how many tasks, the tasks' generator seed) and how they load the model (one
torch thread: they decode token by token, where more threads only contend). Imported by those scripts,
which run as `python bench/NAME.py`, so this folder is on the import path."""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see synthagent.train


def probe_parser(description: str, tasks: int) -> argparse.ArgumentParser:
    """The shared arguments; a script adds its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("checkpoint", type=Path, help="a folder with a model and its tokenizer (model-sft, model)")
    parser.add_argument("--domains", required=True, help="comma-separated procedural domains")
    parser.add_argument("--tasks", type=int, default=tasks)
    parser.add_argument("--seed", type=int, default=77, help="generator seed of the tasks")
    return parser


def load_probe_model(checkpoint: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of a `train tiny` checkpoint, on one torch thread, library warnings silenced."""
    warnings.filterwarnings("ignore")
    import torch

    from synthagent.train.tiny import load_checkpoint

    torch.set_num_threads(1)
    return load_checkpoint(checkpoint)
