# Every target sets up what it needs on a fresh machine: the virtualenv, the
# Python packages and the Kafka jars are installed on first use.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh

.PHONY: help install kafka-jars kafka-up kafka-down run lint settings tools chart-check test reliability clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The runtime dependencies at the versions of deploy/requirements.lock, the image's: what
# the tests pass with is what ships, whatever the index has published since.
$(VENV)/.installed: pyproject.toml deploy/requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint deploy/requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install the package with its dev tools

kafka-jars: ## resolve Apache Kafka's jars from Maven Central into deploy/kafka/lib
	bash $(KAFKA) fetch

kafka-up: ## start the local broker on 127.0.0.1:9092 (idempotent)
	bash $(KAFKA) start

kafka-down: ## stop the local broker (idempotent)
	bash $(KAFKA) stop

.PHONY: kafka-cluster-up kafka-cluster-down

kafka-cluster-up: ## three local brokers: SASL_SSL, mTLS, ACLs; settings in deploy/kafka/cluster/bridge.env (idempotent)
	bash deploy/kafka/cluster.sh up

kafka-cluster-down: ## stop the three local brokers (their data stays; `cluster.sh clean` removes it)
	bash deploy/kafka/cluster.sh down

run: install ## local broker + bridge on 127.0.0.1:8080 in the foreground; Ctrl-C stops both
	bash deploy/run-local.sh

lint: install ## ruff (lint and format), mypy --strict, shellcheck (every shell script), hadolint (the Dockerfiles)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	bash deploy/tools/lint-shell.sh
	$(BIN)/hadolint --failure-threshold style deploy/Dockerfile deploy/kafka/image/Dockerfile

settings: install ## regenerate the README's settings table and the chart's settings from bridge/settings/model.py
	$(BIN)/python -m bridge.tools.settings_docs --write

tools: ## build the pinned helm, promtool, helm-unittest and toxiproxy into .tools/bin, fetch the schemas (deploy/tools/versions.env)
	bash deploy/tools/install-tools.sh

chart-check: install tools ## the chart without a cluster: helm lint, Kubernetes schemas of every ci/ variant, helm-unittest
	VENV=$(VENV) bash deploy/tools/check-chart.sh

test: lint kafka-jars tools chart-check ## lint, types, the chart, then every test, against a real broker started for the run
	$(BIN)/pytest -m "not long and not container and not kubernetes"

SOAK_SECONDS ?= 600
FUZZ_SECONDS ?= 60

# All three run, so that one failing still leaves the others' figures; any failure fails the target.
reliability: install kafka-jars tools ## faults in their long form, a soak (SOAK_SECONDS=600) and a decoder fuzz (docs/reliability.md)
	mkdir -p build/reliability; status=0; \
	RELIABILITY_REPORT_DIR=build/reliability $(BIN)/pytest tests/reliability || status=1; \
	$(BIN)/python -m tests.reliability.soak --seconds $(SOAK_SECONDS) --out build/reliability/soak.json || status=1; \
	$(BIN)/python -m tests.reliability.fuzz_decoder --seconds $(FUZZ_SECONDS) \
		> build/reliability/fuzz.log 2>&1 || status=1; \
	tail -n 7 build/reliability/fuzz.log; \
	exit $$status

clean: ## stop the local broker and remove what the targets created
	-bash $(KAFKA) clean
	rm -rf $(VENV) .tools deploy/kafka/lib .mypy_cache .ruff_cache .pytest_cache .hypothesis

.PHONY: bench bench-soak

$(VENV)/.bench-installed: pyproject.toml deploy/requirements.lock $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --constraint deploy/requirements.lock -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed kafka-jars ## measure the bridge against its ceilings and a naive bridge (benchmarks/README.md)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-soak: $(VENV)/.bench-installed kafka-jars ## the bridge at 50% of its maximum for BENCH_SOAK_SECONDS (300): is its memory flat?
	$(BIN)/python -m benchmarks --soak $${BENCH_SOAK_SECONDS:-300} $(BENCH_ARGS)

.PHONY: reconcile-scale

reconcile-scale: install kafka-jars ## bridge reconcile over RECONCILE_VIDEOS (100000) videos against the fake API (docs/reconciliation.md)
	$(BIN)/python -m tests.reconcile_scale --videos $${RECONCILE_VIDEOS:-100000} --missing $${RECONCILE_MISSING:-5000}

# -- images and a container engine (podman or docker, whichever answers: deploy/image.sh) ----------
.PHONY: image base-image kafka-image container-test

image: ## build video-callback-bridge:<version> from deploy/Dockerfile (BASE_IMAGE=... for another base)
	bash deploy/image.sh bridge

base-image: ## make the Dockerfile's default base from Debian's packages (mmdebstrap), for no registry
	bash deploy/image.sh python-base

kafka-image: kafka-jars ## make apache/kafka:<version> from Kafka's jars on a Debian JRE, for no registry
	bash deploy/image.sh kafka

$(VENV)/.containers-installed: pyproject.toml deploy/requirements.lock $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --constraint deploy/requirements.lock -e '.[dev,containers]'
	touch $@

# The image and compose tests, then every test on the suite's broker again, that broker
# being apache/kafka in a container (tests that start brokers of their own are not repeated).
container-test: $(VENV)/.containers-installed kafka-jars image ## the image and compose run by the engine; Kafka tests via testcontainers
	$(BIN)/pytest -m container
	BRIDGE_TEST_KAFKA=container $(BIN)/pytest -m "shared_broker and not long and not container"

.PHONY: dashboard

dashboard: install ## regenerate the Grafana dashboard (deploy/grafana/, and the chart's copy)
	$(BIN)/python deploy/grafana/dashboard.py

.PHONY: chart-test cluster-test

chart-test: install tools ## the chart's releases on a real kube-apiserver + etcd on 127.0.0.1 (builds them into .tools/)
	bash deploy/tools/install-kubernetes.sh apiserver
	$(BIN)/pytest -m kubernetes tests/deploy/kubernetes/test_chart_releases.py

# Root, and only with CI=true or BRIDGE_CLUSTER_TEST=yes: it changes iptables and kernel
# parameters (and puts them back). The image is the one `make image` builds.
cluster-test: install tools kafka-jars ## the chart on a whole single-node cluster under load (root; CI=true or BRIDGE_CLUSTER_TEST=yes)
	@[[ $${CI:-} == true || $${BRIDGE_CLUSTER_TEST:-} == yes ]] || { echo "cluster-test: changes iptables and kernel parameters of this machine; run it with CI=true or BRIDGE_CLUSTER_TEST=yes" >&2; exit 1; }
	$(MAKE) image
	bash deploy/tools/install-kubernetes.sh node
	mkdir -p build/cluster
	CLUSTER_REPORT_DIR=build/cluster $(BIN)/pytest -m kubernetes tests/deploy/kubernetes/test_cluster.py
