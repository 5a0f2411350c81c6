# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch 2.13.0 sits in /opt/wheels on our machines; elsewhere pip finds it on PyPI.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: run test bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(PIP_FLAGS) -e .
	touch $@

# torch first, pinned, so nothing can pull a CUDA build in its place.
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(PIP_FLAGS) torch==2.13.0
	$(BIN)/pip install -q $(PIP_FLAGS) -e '.[test,bayes]'
	touch $@ $(VENV)/.core

# `tnaas up` trains what is missing: each corpus' default model first, then serves and trains the rest.
run: $(VENV)/.core
	$(BIN)/tnaas up

# The browser tests drive Debian's chromium: install it if it is missing and apt is ours to use.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "chromium is missing and apt needs root: the browser tests will be skipped"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.test browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(VENV)/.test
	$(BIN)/pip install -q $(PIP_FLAGS) -e '.[test,bayes,bench]'
	$(BIN)/tnaas train
	$(BIN)/python -m bench.names_nll
	$(BIN)/python -m bench.sampling_speed
	$(BIN)/python -m bench.language_detection
	$(BIN)/python -m bench.jobs
	$(BIN)/python -m bench.believability
	$(BIN)/python -m bench.feedback_loop
	$(BIN)/python -m bench.slack
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.memory --artifacts artifacts
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.availability
	$(BIN)/python -m bench.web_start

clean:
	rm -rf $(VENV) artifacts
