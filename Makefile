# Developer entry points. `.ci/run` installs the tools and calls `make ci`.
.PHONY: test ci lint fmt deps web web-test bench-store bench-chain contracts contracts-artifact contracts-gas contracts-slither rust-test

FORGE := $(CURDIR)/node_modules/.bin/forge

# Node packages: interop tests (kubo-rpc-client, Helia, ipfs-car), solc-js, forge, anvil, cast.
deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

test: contracts web-test rust-test

rust-test: deps
	cargo test --workspace --all-features

# The JobAgency contract: build, check the committed artifact is fresh, run every forge test
# (unit, fuzz, invariant, attackers), then check the gas snapshots are current.
contracts: deps
	cd contracts && $(FORGE) build
	node contracts/script/artifact.mjs --check
	cd contracts && $(FORGE) test --no-match-contract GasTest
	cd contracts && AGENCY_GAS_SNAPSHOT=true $(FORGE) snapshot --isolate --match-contract GasTest --check
	git diff --exit-code -- contracts/snapshots || { echo 'contracts/snapshots is stale: run `make contracts-gas` and commit it'; exit 1; }

# Rewrites the committed artifact after a contract change.
contracts-artifact: deps
	cd contracts && $(FORGE) build
	node contracts/script/artifact.mjs

# Rewrites the gas snapshots (.gas-snapshot and snapshots/*.json) after a contract change.
contracts-gas: deps
	cd contracts && AGENCY_GAS_SNAPSHOT=true $(FORGE) snapshot --isolate --match-contract GasTest

# Static analysis of the contract with Slither (PyPI `slither-analyzer`; `.ci/run` installs it),
# offline through the same solc script. contracts/slither.config.json fails on any finding; the
# ones that stay are silenced where they occur, and docs/security.md ("Static analysis") says why.
contracts-slither: deps
	cd contracts && PATH=$(CURDIR)/node_modules/.bin:$$PATH slither .

# The dapp: type-check, rebuild, and fail if the committed bundle (web/dist, embedded in the
# binary) differs from a fresh build.
web: deps
	npm run -s web:check
	npm run -s web:build
	git diff --exit-code -- web/dist || { echo 'web/dist is stale: run `make web` and commit it'; exit 1; }

# The dapp's protocol.ts against the contract's sources and the vectors the Rust side reads.
web-test: deps
	npm run -s web:test

lint: deps web
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cd contracts && $(FORGE) fmt --check
	$(MAKE) --no-print-directory contracts-slither
	node_modules/.bin/dockerfile-utils lint Dockerfile

fmt:
	cargo fmt --all
	cd contracts && $(FORGE) fmt

ci: lint test

bench-store: deps
	scripts/bench-store.sh

# Signed contract calls per second into the dev chain (in-process and HTTP) and into anvil.
bench-chain: deps
	cargo bench -p agency-devchain --bench tps
