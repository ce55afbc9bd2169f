# The two commands of the README: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint migrate bench bench-full clean widget api-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/parley serve

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# The benchmark set (about 15 minutes on 2 cores); figures land in benchmarks/results/.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.startup
	$(BIN)/python -m benchmarks.voice_turn_latency --turns 20
	$(BIN)/python -m benchmarks.voice_latency --profile cloud --callers 1 --turns 4 --py-spy
	$(BIN)/python -m benchmarks.voice_latency --profile zero --sweep 1,10,50,100,200 --turns 3
	$(BIN)/python -m benchmarks.compare_pipecat --profile cloud --callers 1 --turns 4
	$(BIN)/python -m benchmarks.chat --requests 10
	$(BIN)/python -m benchmarks.rag_eval
	$(BIN)/python -m benchmarks.quota_check
	$(BIN)/python -m benchmarks.widget_latency --turns 10

# The long ones on top (about 30 minutes more): retrieval over 10,000 and 100,000 chunks, the
# dashboard over 100,000 messages, Pipecat against 10 callers.
bench-full: bench
	$(BIN)/python -m benchmarks.retrieval
	$(BIN)/python -m benchmarks.dashboard
	$(BIN)/python -m benchmarks.compare_pipecat --profile zero --callers 10 --turns 3

# The widget's bundle (widget/dist/parley.js, committed so `make run` needs no Node): rebuilt
# from widget/src with esbuild; prints its gzipped size. Needs Node 18+ and npm.
widget:
	cd widget && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# The API reference UI served at /schema (voice_server/api_docs, committed so /schema works offline
# and never loads a CDN): the exact npm version below, unpacked from the registry's tarball.
SCALAR_VERSION := 1.76.0
api-docs:
	rm -rf .api-docs-build && mkdir .api-docs-build
	cd .api-docs-build && npm pack --silent @scalar/api-reference@$(SCALAR_VERSION) >/dev/null && tar xzf *.tgz
	rm -f voice_server/api_docs/scalar-api-reference-*
	cp .api-docs-build/package/dist/browser/standalone.js voice_server/api_docs/scalar-api-reference-$(SCALAR_VERSION).js
	cp .api-docs-build/package/dist/styles/standalone.css voice_server/api_docs/scalar-api-reference-$(SCALAR_VERSION).css
	rm -rf .api-docs-build

migrate: $(VENV)/.installed-run
	$(BIN)/parley migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
