# polc: build, test and generate. `make test` is the whole suite that CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X polc.dev/polc/internal/cli.Version=$(VERSION)

.PHONY: all build install check test unit fuzz fmt-check vet lint generate verify-generate kyverno kyverno-test tools e2e e2e-latency bench clean

all: build

## build: build bin/polc
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/polc ./cmd/polc

## install: go install polc with the version stamped, into $(go env GOBIN), else $(go env GOPATH)/bin
## (GOBIN=DIR make install to choose); that directory must be on PATH for the pre-commit hooks
install:
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/polc
	@dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	echo "installed $$dir/polc"; case ":$$PATH:" in *":$$dir:"*) ;; *) echo "note: $$dir is not on PATH";; esac

## check: build polc and check this repository's own modules
check: build
	$(BIN)/polc check

## test: everything CI runs: formatting, vet, staticcheck, unit and CLI tests (race detector, the
## hostile-repository suite included), generated files, a short run of every fuzz target, Kyverno CLI tests,
## then the in-cluster tests (make e2e; POLC_E2E=0 skips them, loudly). With CI set, a suite skipped for a
## missing prerequisite or by such a knob fails the run, unless POLC_ALLOW_SKIP=1 is set too.
test: fmt-check vet lint verify-generate tools unit fuzz kyverno-test e2e

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./tests/e2e/

## lint: staticcheck (pinned in hack/build-tools.sh, built into bin/ once) on every package, e2e tests included
lint:
	hack/build-tools.sh staticcheck
	$(BIN)/staticcheck ./...
	$(BIN)/staticcheck -tags e2e ./tests/e2e/

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

## fuzz: run every Go fuzz target for FUZZTIME each (default 10s); seed corpora run in make unit too
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

## generate: regenerate everything generated from the metadata and the registry: docs/rules.md,
## docs/modules/, the policy pack, the example cluster entry point and the release files
generate: build
	$(BIN)/polc rules --format markdown > docs/rules.md
	$(BIN)/polc doc
	$(BIN)/polc compile
	$(BIN)/polc compile --flux examples/cluster
	$(BIN)/polc release config

## verify-generate: fail when generated files are stale (writes nothing)
verify-generate: build
	@$(BIN)/polc rules --format markdown | diff -u docs/rules.md - || { echo "docs/rules.md is stale: run make generate"; exit 1; }
	$(BIN)/polc doc --check
	$(BIN)/polc compile --check
	$(BIN)/polc compile --flux examples/cluster --check
	$(BIN)/polc release config --check

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

## e2e-latency: admission latency with no pack and with the compiled pack of the generated 10- and 200-module
## repositories (both targets), on the in-cluster stack; prints p50/p99 per configuration (hack/e2e/README.md)
e2e-latency:
	hack/e2e/latency.sh

## bench: benchmarks over a generated 200-module repository and the corpus
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tests/bench/

clean:
	rm -rf $(BIN)
