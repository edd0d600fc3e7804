"""Training recipes. `tiny`: a small Qwen3-architecture model trained from scratch on CPU (SFT on gold
trajectories, then GRPO with rubric rewards through the TRL environment). Needs the `train` extra.

Importing this package asks OpenMP to sleep rather than spin while waiting (OMP_WAIT_POLICY=PASSIVE,
unless already set; it must be set before torch loads): on a machine whose cores are shared, spinning
workers made tiny-model training steps over ten times slower in our measurements.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
