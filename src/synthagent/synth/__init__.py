"""Making tasks: the procedural generator's driver (with rubric self-tests) and the teacher-model pipeline.

Inside: `procedural` (resumable generation of procedural tasks), `llm/` (the teacher pipeline: design,
underspecify, tool check, solve, rubric, gate — see docs/synthesis.md).

Entry points: `synthagent synth procedural`, `synthagent synth llm`.
May import: spec, llm, worlds, sim, reward, rollout.
"""
