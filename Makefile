# Developer entry points. `.ci/run` installs the tools and calls `make ci`.
.PHONY: test ci lint fmt deps bench-store

# Node packages the interop tests drive (kubo-rpc-client, Helia, ipfs-car).
deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

test: deps
	cargo test --workspace --all-features

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	cargo fmt --all

ci: lint test

bench-store: deps
	scripts/bench-store.sh
