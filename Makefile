# The two commands a new user needs:
#   make demo   the whole system on local defaults
#   make test   every check CI runs
# Everything installs itself on first use (make setup) and is skipped after.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

FORGE := script/foundry forge
NPM_STAMP := node_modules/.seed-eth-installed
AUDIT_VENV := .venv-audit
SIGSTORE_VENV := .venv-sigstore

export SEED_ETH_ANVIL = $(shell script/foundry --which anvil 2>/dev/null)
export SEED_ETH_SIGSTORE_PYTHON = $(CURDIR)/$(SIGSTORE_VENV)/bin/sigstore

.PHONY: help setup test demo demo-check bench lint audit fmt forge-test cargo-test flake-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(NPM_STAMP) ## Install what is missing (idempotent, fast when done)
	script/setup-system

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: setup lint forge-test cargo-test flake-check audit demo-check ## Run every check CI runs
	@echo "make test: all checks passed"

lint: setup ## Formatting and lints: cargo fmt, clippy, forge fmt
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(FORGE) fmt --check

forge-test: setup ## Solidity unit, invariant, upgrade and governance tests
	$(FORGE) test

cargo-test: setup $(SIGSTORE_VENV)/.installed ## Rust unit and integration tests
	cargo test --workspace --locked

audit: setup $(AUDIT_VENV)/.installed ## Static analysis: slither, the registry's upgrade safety and storage layout, the CI files (zizmor, schemas)
	rm -rf target/audit
	$(FORGE) build contracts --quiet --out target/audit/out --cache-path target/audit/cache
	npx --no-install @openzeppelin/upgrades-core validate target/audit/out/build-info --contract SeedRegistry
	PATH="$$(dirname "$$(script/foundry --which forge)"):$$PATH" $(AUDIT_VENV)/bin/slither . --config-file slither.config.json
	AUDIT_VENV=$(AUDIT_VENV) script/check-ci-files

$(AUDIT_VENV)/.installed: requirements-audit.txt
	python3 -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-audit.txt
	touch $@

$(SIGSTORE_VENV)/.installed: requirements-sigstore.txt
	python3 -m venv $(SIGSTORE_VENV)
	$(SIGSTORE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sigstore.txt
	touch $@

flake-check: setup ## flake.nix for all four systems against a stub nixpkgs and crane, its npm lock installed by npm (nothing is built: nixpkgs is not reachable here)
	script/check-flake

fmt: setup ## Reformat Rust and Solidity sources
	cargo fmt --all
	$(FORGE) fmt

demo: setup ## Run the demo on local defaults
	cargo build --locked --quiet --bin seed-eth --example rekor_double
	script/demo

demo-check: setup ## The demo must keep working from a fresh clone: run it, keep its output
	cargo build --locked --quiet --bin seed-eth --example rekor_double
	mkdir -p "$${CARGO_TARGET_DIR:-target}"
	script/demo > "$${CARGO_TARGET_DIR:-target}/demo.log" 2>&1 || { cat "$${CARGO_TARGET_DIR:-target}/demo.log"; exit 1; }
	@echo "make demo-check: the demo ran to the end (output in $${CARGO_TARGET_DIR:-target}/demo.log)"

bench: setup $(SIGSTORE_VENV)/.installed ## Benchmarks; machine-readable results under target/bench/
	mkdir -p target/bench
	$(FORGE) snapshot --snap target/bench/forge.gas-snapshot
	script/gas-bench
	cargo run --release --locked --quiet -p seed-nix --example hash_throughput -- target/bench/client.json 200
	script/verify-bench target/bench/client.json 20
	cargo build --release --locked --quiet --bin seed-eth
	cargo run --release --locked --quiet -p seed-image --example content_bench -- target/release/seed-eth target/bench/content.json 600
	cargo run --release --locked --quiet -p seed-keeper --example keeper_bench -- target/release/seed-eth target/bench/keeper.json 50 1000 500 1024
	cargo run --release --locked --quiet -p seed-sigstore --example bundle_bench -- target/release/seed-eth $(SIGSTORE_VENV)/bin/sigstore target/bench/sigstore.json
	cargo run --release --locked --quiet -p seed-credulous --example release_bench -- target/release/seed-eth target/bench/sigstore.json
	cargo run --release --locked --quiet -p seed-witness --example witness_bench -- target/bench/witness.json
	cargo run --release --locked --quiet -p seed-verify --example scale_bench -- target/release/seed-eth target/bench/scale.json 5 1000 10000
	@echo "make bench: results in target/bench/"

clean: ## Remove build outputs (not node_modules)
	cargo clean
	rm -rf out cache broadcast
