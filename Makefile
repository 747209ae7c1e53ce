# polc: build, test and generate. `make test` is the whole suite that CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X polc.dev/polc/internal/cli.Version=$(VERSION)

.PHONY: all build check test unit fuzz fmt-check vet generate verify-generate kyverno kyverno-test tools e2e bench clean

all: build

## build: build bin/polc
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/polc ./cmd/polc

## check: build polc and check this repository's own modules
check: build
	$(BIN)/polc check

## test: everything CI runs: formatting, vet, unit and CLI tests (race detector, the hostile-repository suite
## included), generated files, a short run of every fuzz target, Kyverno CLI tests, then the in-cluster tests
## (make e2e; POLC_E2E=0 skips them, loudly)
test: fmt-check vet verify-generate tools unit fuzz kyverno-test e2e

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./tests/e2e/

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

## fuzz: run every Go fuzz target for FUZZTIME each (default 10s); seed corpora run in make unit too
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

## generate: regenerate everything generated from the metadata and the registry: docs/rules.md,
## docs/modules/, the policy pack and the example cluster entry point
generate: build
	$(BIN)/polc rules --format markdown > docs/rules.md
	$(BIN)/polc doc
	$(BIN)/polc compile
	$(BIN)/polc compile --flux examples/cluster

## verify-generate: fail when generated files are stale (writes nothing)
verify-generate: build
	@$(BIN)/polc rules --format markdown | diff -u docs/rules.md - || { echo "docs/rules.md is stale: run make generate"; exit 1; }
	$(BIN)/polc doc --check
	$(BIN)/polc compile --check
	$(BIN)/polc compile --flux examples/cluster --check

## kyverno: build the pinned Kyverno CLI into bin/ (once; reused when present)
kyverno: $(BIN)/kyverno
$(BIN)/kyverno:
	hack/build-tools.sh kyverno

## kyverno-test: compile both targets and run `kyverno test` on each
kyverno-test: build kyverno
	hack/kyverno-test.sh

## tools: build every pinned CLI the tests use (Kyverno, kustomize) into bin/
tools:
	hack/build-tools.sh kyverno kustomize

## e2e: in-cluster tests: a local API server and the Kyverno admission controller enforce the pack
## (hack/e2e/README.md); builds the missing binaries into bin/ first
e2e: build
	hack/e2e/run.sh

## bench: benchmarks over a generated 200-module repository and the corpus
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tests/bench/

clean:
	rm -rf $(BIN)
