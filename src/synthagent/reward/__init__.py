"""Scoring a trajectory against its task's rubric: programmatic checks, the LLM judge, the reward.

Inside: `checks` (one function per check op; world kinds register theirs with `register_check`), `replay`
(re-executes an episode's calls on its world kind's replay session), `scorer` (`score`, `score_async`,
`RewardConfig`, the aggregation), `judge` (the LLM judge for items without a check), `selftest` (every task's
rubric tested: gold → 1, nothing → 0, acting without asking fails), `calibrate` (judge against checks).

Entry point: `score(task, trajectory)`.
May import: spec, llm, worlds, sim.
"""
