"""``python -m synthagent.synth.llm llm --config ... --out ...``: the command without the main CLI."""

from synthagent.synth.llm.cli import main

if __name__ == "__main__":  # guarded: --workers starts processes that re-import the main module
    main()
