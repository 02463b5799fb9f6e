# invokerctl — build, test and demo targets. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin
PKGS      := ./...
# The slowest package (the CLI's, with its end-to-end, fault and signal
# tests) takes about 4 minutes on a 2-core machine; the timeout is about
# 2.5 times that, so a hung test surfaces in minutes, not an hour.
GOFLAGS_TEST ?= -count=1 -timeout 10m
FUZZTIME ?= 30s

.PHONY: all build test test-short lint bench demo fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/invokerctl ./cmd/invokerctl

# Everything CI runs: formatting and vet, then every test tier (unit, in-process
# emulator with the real Google client libraries, end-to-end with terraform).
test: lint
	$(GO) test $(GOFLAGS_TEST) $(PKGS)

# Unit and in-process tests only (skips the terraform end-to-end tier).
test-short:
	$(GO) test -short -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l cmd pkg examples); if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v terraform >/dev/null 2>&1; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -recursive -check terraform examples; else echo "terraform not found: skipping terraform fmt -check"; fi

# Measures invokerctl beside its baselines against the in-process emulator
# (50 ms added latency), prints one Markdown table and writes it to
# $(BIN)/bench.md. A few minutes on 2 cores; BENCHFLAGS adds flags, e.g.
# BENCHFLAGS='-apply-services 50'. Go micro-benchmarks: go test -bench . ./...
BENCHFLAGS ?=
bench: build
	$(GO) run ./pkg/internal/bench/benchmain -invokerctl $(BIN)/invokerctl -out $(BIN)/bench.md $(BENCHFLAGS)

# Every Go fuzz target, each for $(FUZZTIME) (make test already runs their
# seed corpora as ordinary tests).
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' cmd pkg | while read -r f; do \
	  dir=$$(dirname "$$f"); \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
	    echo "== $$dir $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "./$$dir"; \
	  done; \
	done

demo: build
	$(BIN)/invokerctl demo

clean:
	rm -rf $(BIN)
