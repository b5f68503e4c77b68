# Registry Security Lab — the two entry points are `make lab` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SANDBOX_DIR ?= $(HOME)/.local/state/labhelpers/sandbox
KUBECTL_VERSION ?= 1.33
# Extra kubectl clients the test suite runs against (the sandbox supports 1.32-1.37).
KUBECTL_TEST_VERSIONS ?= 1.32 1.37
export PATH := $(BIN):$(PATH)
# JupyterLab refuses to run as root without --allow-root (and there is no browser to open on a server).
JUPYTER_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root --no-browser,)

.PHONY: setup system-deps lab sandbox-up sandbox-down test test-kubectls test-ui screenshots grade-demo regress lint bench clean

setup: $(VENV)/.installed $(BIN)/kubectl system-deps

$(BIN)/python:
	$(PY) -m venv $(VENV) || { echo "python3 -m venv failed: install python3-venv (Debian: apt-get install python3-venv)"; exit 1; }

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(BIN)/kubectl: | $(VENV)/.installed
	$(BIN)/labctl tools install-kubectl --version $(KUBECTL_VERSION)

# Real registries (CNCF Distribution) and the Notary server come from Debian packages; install them when we can.
system-deps:
	@if ! command -v docker-registry >/dev/null 2>&1 || ! command -v notary-server >/dev/null 2>&1 \
	    || ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry notary chromium >/dev/null; \
	  else \
	    echo "note: docker-registry/notary/chromium missing; as root run: apt-get install docker-registry notary chromium"; \
	  fi; \
	fi

sandbox-up: setup
	$(BIN)/labctl sandbox up --dir $(SANDBOX_DIR)

sandbox-down:
	$(BIN)/labctl sandbox down --dir $(SANDBOX_DIR)

lab: sandbox-up
	@echo ""
	@echo "The lab sandbox is running. In a shell:"
	@echo "  $$($(BIN)/labctl sandbox env --dir $(SANDBOX_DIR))"
	@echo "  export PATH=$(BIN):\$$PATH   # the pinned kubectl"
	@echo "  kubectl get namespaces"
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
	  KUBECONFIG=$(SANDBOX_DIR)/kubeconfig $(BIN)/jupyter lab --notebook-dir=notebooks $(JUPYTER_ARGS); \
	else \
	  echo "(no notebooks yet: the sandbox stays up; stop it with 'make sandbox-down')"; \
	fi

lint: $(VENV)/.installed
	$(BIN)/ruff check labhelpers tests benchmarks tools grading

test-kubectls: $(VENV)/.installed
	@for v in $(KUBECTL_TEST_VERSIONS); do [ -x $(BIN)/kubectl-$$v ] || $(BIN)/labctl tools install-kubectl --version $$v; done

test: setup lint test-kubectls
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-ui: setup  ## only the JupyterLab-in-Chromium test (part of make test)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/ui

screenshots: setup  # refresh docs/jupyterlab-01-imagepullsecrets.png
	LAB_SCREENSHOT_DIR=docs $(BIN)/python -m pytest -q -p no:cacheprovider tests/ui

grade-demo: setup  ## nbgrader: release lab03, grade complete/partial/blank submissions, print the scores
	$(BIN)/python -m grading.demo

regress: setup  ## every notebook headless with papermill, each on a fresh sandbox
	$(BIN)/labctl regress

bench: setup
	$(BIN)/python benchmarks/sandbox.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
