# smsgw — run `make` for the list of targets.
GO       ?= go
BIN      := bin
PLUGINS  := loopback fastsmsing twilio flowroute
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Integration tests and benchmarks start real processes; keep the whole run well under 20 min.
TEST_TIMEOUT ?= 15m

.DEFAULT_GOAL := help
.PHONY: help build plugins example-plugin run test bench lint proto check-deps clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: $(BIN)/smsgw plugins ## build the gateway and every bundled plugin into ./bin

$(BIN)/smsgw: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/smsgw

plugins: $(addprefix $(BIN)/plugins/smsgw-provider-,$(PLUGINS)) ## build the provider plugins into ./bin/plugins

$(BIN)/plugins/smsgw-provider-%: FORCE
	$(GO) build -trimpath -o $@ ./plugins/$*

# The example is its own Go module (it imports only plugins/sdk, through a replace of this
# checkout), so it is built from inside its directory, as a third party builds a plugin.
EXAMPLE := examples/provider-echo

example-plugin: ## build the third-party example plugin (its own module) into ./bin/plugins
	cd $(EXAMPLE) && $(GO) build -trimpath -o $(CURDIR)/$(BIN)/plugins/smsgw-provider-echo .
	@echo "sha256 for its provider block: $$(sha256sum $(BIN)/plugins/smsgw-provider-echo | cut -d' ' -f1)"

run: build ## build, then serve on 127.0.0.1:8080 (SQLite under ./data, loopback provider; login dev:dev)
	$(BIN)/smsgw serve

# -count=1: the integration tests build and start the binaries themselves, so Go's test cache
# cannot see that a change to the gateway invalidates their last result.
# The example module is outside ./... (its own go.mod), hence its own run.
test: ## run every test with -race, integration tests and the example plugin's included (CI runs exactly this)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd $(EXAMPLE) && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: ## load benchmark against Postgres: accepted/s, p50/p99 and ratios against a floor
	$(GO) run ./integration-tests/bench

lint: ## gofmt, go vet, import rules, and golangci-lint when it is installed
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	cd $(EXAMPLE) && $(GO) vet ./...
	bash scripts/check-deps.sh
	@# golangci-lint v2.15.0 is not pinned in go.mod's tool block: some of its dependencies do
	@# not download from every module mirror. Install it separately to get the full lint.
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./... && (cd $(EXAMPLE) && golangci-lint run ./...); \
	else echo "lint: golangci-lint not installed; ran gofmt, go vet and check-deps only"; fi

proto: ## regenerate the plugin protocol's Go code (committed; needs protoc)
	bash plugins/sdk/proto/generate.sh

check-deps: ## enforce the hexagonal import rules (ARCHITECTURE.md §1)
	bash scripts/check-deps.sh

clean: ## remove build output and local data
	rm -rf $(BIN) data

FORCE:
