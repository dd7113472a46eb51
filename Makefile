# Tessera: every entry point a user or CI needs. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: install build run cluster cluster-stop test test-unit test-e2e bench bench-quick bench-compare bench-memory clean

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

install: $(NODE_MODULES_STAMP)

## The erasure kernel: native/gf256-simd.ts (AssemblyScript, from npm) -> dist/native/gf256-simd.wasm.
KERNEL_WASM := dist/native/gf256-simd.wasm
$(KERNEL_WASM): native/gf256-simd.ts native/asconfig.json $(NODE_MODULES_STAMP)
	@mkdir -p $(dir $@)
	npx asc native/gf256-simd.ts --config native/asconfig.json --target release -o $@

build: install $(KERNEL_WASM)
	npx tsc -p tsconfig.json

## Start a single-node server with its defaults: HTTPS on :8443, data under ./data.
run: build
	./bin/s3d server

## A local 6-node cluster (4 data + 2 parity) on 127.0.0.1 in the background: S3 on ports
## 9001-9006, shard servers (QUIC) on 9101-9106, everything under ./cluster-data. Made on first use.
CLUSTER_DIR ?= cluster-data
CLUSTER_TRANSPORT ?= quic
cluster: build
	@test -f $(CLUSTER_DIR)/node-1.yaml || ./bin/s3d cluster init --nodes 6 --parity 2 --base-port 9001 --transport $(CLUSTER_TRANSPORT) --out $(CLUSTER_DIR)
	@./bin/s3d cluster start --dir $(CLUSTER_DIR)
	@echo "Credentials: $(CLUSTER_DIR)/credentials.json   CA bundle: $(CLUSTER_DIR)/tls/cert.pem   Stop: make cluster-stop"

cluster-stop:
	@./bin/s3d cluster stop --dir $(CLUSTER_DIR)

## Every test: unit, integration and end-to-end against real s3d processes.
test: build
	npx tsc -p tsconfig.test.json
	npx vitest run

test-unit: build
	npx vitest run test/unit test/integration

test-e2e: build
	npx vitest run test/e2e

## The benchmark suite (bench/README.md): the machine's limits, Tessera's four set-ups and the peer
## server s3rver under PUT/GET/MIXED/LIST cells, repair, transport, codec. Markdown on stdout;
## JSON and an SVG chart in bench/results/. Under 10 minutes; bench-quick under 2.
bench: build
	node dist/bench/run.js

bench-quick: build
	node dist/bench/run.js --quick

## `make bench-compare A.json B.json`: every figure of two runs side by side with the ratio B/A.
ifeq (bench-compare,$(firstword $(MAKECMDGOALS)))
COMPARE_FILES := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
# The two files are goals too: phony no-op rules, so make neither builds them nor says they are up to date.
.PHONY: $(COMPARE_FILES)
$(eval $(COMPARE_FILES):;@:)
endif
bench-compare: build
	@test -n "$(COMPARE_FILES)" || { echo "usage: make bench-compare A.json B.json" >&2; exit 2; }
	node dist/bench/compare.js $(COMPARE_FILES)

## One 5 GiB PUT and GET through a fresh server: its peak RSS (bar: under 300 MiB) and MB/s.
bench-memory: build
	node dist/bench/memory.bench.js

clean:
	rm -rf dist
