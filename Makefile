# dexauth: Dex authentication for Salt-managed Kubernetes clusters.
#   make lab    toolchain + lab up + the main job (the Dex orchestration), then a summary
#   make test   toolchain + every test (unit and end to end, each on private labs)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The toolchain's cache: $DEXAUTH_CACHE as toolchain/install.sh and labctl read it, or the default.
CACHE  ?= $(or $(DEXAUTH_CACHE),$(HOME)/.cache/dexauth)
TOOLS   = $(CACHE)/toolchain.env
PY      = $$(grep ^SALT_VENV= $(TOOLS) | cut -d= -f2)/bin/python
JAR     = java-ext/target/authctl.jar
# Control-plane hosts of `make lab` (more than 1: each in its own network namespace, lab/cluster.py).
NODES  ?= 1
# Parallel streams of `make test`, each on its own lab (pytest-xdist, whole files); 0: one stream.
# Three on 2 cores: one stream alone keeps about 0.7 of a core busy (it mostly waits for kubelet,
# Dex, kube-apiserver), two left the CPU idle a fifth of the time.
TEST_WORKERS ?= 3

.PHONY: help toolchain jar lab lab-up lab-add-node lab-down lab-status lab-main test unit-java unit-python e2e bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

toolchain: ## install/build everything the lab needs (cached by version outside the repo)
	@toolchain/install.sh

jar: ## build the authctl jar (only when its sources changed)
	@bin/authctl version

lab: toolchain jar lab-up lab-main ## bring the lab up and run the main job on it

lab-up: ## start the lab (etcd, kube-apiserver, salt master/minion/api) in .lab/; NODES=3 for three hosts
	@$(PY) lab/labctl.py up $(if $(filter-out 1,$(NODES)),--nodes $(NODES)) >/dev/null

lab-add-node: ## add a control-plane host to a running lab of several (then: docs/operations.md, "Adding a control-plane node")
	@$(PY) lab/labctl.py add-node >/dev/null

lab-main: ## run the main job (Dex orchestration) on the running lab and print the summary
	@$(PY) lab/main_job.py

lab-down: ## stop the lab, leaving no process or port behind
	@$(PY) lab/labctl.py down

lab-status: ## print the lab summary and the health of each process
	@$(PY) lab/labctl.py status

test: toolchain ## run every test (JUnit, pytest for Salt modules, end to end on private labs)
	@echo "[test] Java unit tests"; mvn -q -B package
	@echo "[test] Salt module unit tests and end-to-end tests"
	@$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not alone" salt/tests tests
	@echo "[test] End-to-end tests that compare the whole machine before and after, with no other lab running"
	@$(PY) -m pytest -q -p no:cacheprovider -m alone tests

bench: toolchain jar ## run the benchmarks and print figures
	@bench/run.sh

clean: ## remove build outputs (not the toolchain cache)
	@mvn -q -B clean; rm -rf .lab
