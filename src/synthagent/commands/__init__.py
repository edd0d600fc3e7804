"""Command modules that join packages from different layers, so they sit at the bottom with `cli.py`.

`synth_llm` is the `synth llm` command: the teacher pipeline (synth) plus `--exclude-near`, which checks the
accepted tasks against τ² and BFCL (integrations). A stage's command module that needs only its own stage
and those above it stays in that stage (`reward/cli.py`, `report/cli.py`, …).

May import: everything. Imported only by `synthagent.cli`.
"""
