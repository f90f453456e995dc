# Punctual's front door. Every target works on a fresh machine: the ones that
# need the virtualenv or the local cluster build them first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
CASES ?= 100000

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --upgrade pip
	$(VENV_PY) -m pip install --quiet -e '.[test]'
	touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## Create .venv with the project and its test extras.

.PHONY: cluster-build
cluster-build: ## Build etcd, Kubernetes, KWOK and helm into PUNCTUAL_CACHE (default ~/.cache/punctual), cached.
	bash hack/cluster-build.sh

.PHONY: cluster-up
cluster-up: venv cluster-build ## Start the local cluster (kept if already running) and print the KUBECONFIG export.
	$(VENV_PY) hack/localcluster.py up

.PHONY: cluster-down
cluster-down: ## Stop every process of the local cluster and remove its data.
	@if [ -x $(VENV_PY) ]; then $(VENV_PY) hack/localcluster.py down; else $(PYTHON) hack/localcluster.py down; fi

.PHONY: crds
crds: venv ## Regenerate crds/ from the pydantic models and copy them into the Helm chart.
	$(VENV_PY) -m punctual.crdgen
	bash hack/sync-chart-crds.sh

.PHONY: chart-lint
chart-lint: cluster-build ## Lint the Helm chart with the helm built by cluster-build.
	source hack/versions.sh && "$${PUNCTUAL_CACHE}/bin/helm-$${HELM_VERSION}/helm" lint --strict charts/punctual

IMAGE ?= punctual:dev
.PHONY: image
image: ## Build the operator image (needs a Docker engine with BuildKit, which the dev machines lack).
	docker build -t $(IMAGE) .

.PHONY: test
test: venv cluster-build ## Run every test; starts the local cluster unless PUNCTUAL_KUBECONFIG names one.
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## Run the tests that need no cluster.
	$(VENV_PY) -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: run
run: venv ## Run the operator against KUBECONFIG (install the CRDs first: kubectl apply --server-side -k crds/).
	@test -n "$$KUBECONFIG" || { echo "error: KUBECONFIG is not set; run 'make cluster-up' and the export line it prints, or point it at your cluster" >&2; exit 1; }
	$(VENV_PY) -m punctual

.PHONY: demo
demo: venv ## Local cluster (unless KUBECONFIG is set), CRDs, operator and samples; prints runs as they happen.
	bash hack/demo.sh

.PHONY: conformance
conformance: venv ## Compare schedules with robfig/cron (CASES=100000 by default).
	CASES=$(CASES) bash hack/conformance.sh
