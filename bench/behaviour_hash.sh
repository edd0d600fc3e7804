#!/usr/bin/env bash
# Fingerprint of the procedural engine's behaviour: sha256 of 3000 generated tasks (all domains, levels 1-5)
# and of the `synthagent demo` table. Run before and after a refactor; the two lines must be identical.
# Usage: bench/behaviour_hash.sh [SRC_DIR]   (default: src of this checkout)
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}
PY=${PY:-/work/main/.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
PYTHONPATH="$SRC" "$PY" -c "import sys; from synthagent.cli import app; sys.argv=['synthagent']+sys.argv[1:]; app()" \
  synth procedural --out tasks.jsonl --domains all --n 3000 --seed 0 --difficulty 1,2,3,4,5 >/dev/null
echo "tasks.jsonl  $(wc -l < tasks.jsonl) lines  sha256 $(sha256sum tasks.jsonl | cut -d' ' -f1)"
PYTHONPATH="$SRC" "$PY" -c "import sys; from synthagent.cli import app; sys.argv=['synthagent']+sys.argv[1:]; app()" demo > demo.txt 2>&1
echo "demo         sha256 $(sha256sum demo.txt | cut -d' ' -f1)"
cat demo.txt
