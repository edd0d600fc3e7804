"""Other formats and frameworks, in and out: τ²-bench, the authors' release, TRL, verl, reasoning-gym.

Inside: `tau2/` (import, its world kind, checks, export), `synthagent_release` and `rubric_markdown` (the
authors' release format), `text_protocol` (the authors' text tool-call protocol), `release_verl` (verl rows),
`trl/` (TRL's environment_factory), `verl/` (verl's agent loop and reward), `reasoning_gym` (the reasoning world
kind). World kinds defined here register through the `synthagent.world_kinds` entry points.

May import: every package above it (spec … synth); never exports, train or the command line.
"""
