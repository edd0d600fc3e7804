"""User simulators: scripted (procedural ledger) and LLM."""
