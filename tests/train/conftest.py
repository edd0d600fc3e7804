"""Training tests: OpenMP workers sleep instead of spinning (set before torch loads; see synthagent.train)."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
