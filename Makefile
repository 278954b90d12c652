# Shoal build. Every target works from a fresh clone with only Go installed.
GO        ?= go
BIN       := bin
PKG       := github.com/shoaldb/shoal/pkg/version
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
TIERS     := meta router storage
# Every module's packages, as workspace patterns.
PACKAGES  := ./pkg/... ./proto/... ./services/meta/... ./services/router/... ./services/storage/... ./tests/...
TOOLS     := $(BIN)/tools
TEST_TIMEOUT ?= 15m

.PHONY: all build test unit lint proto proto-check run clean tools

all: build

## build: static binaries for every tier into bin/
build:
	@mkdir -p $(BIN)
	@for t in $(TIERS); do \
		echo "build $(BIN)/shoal-$$t"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/shoal-$$t ./services/$$t/cmd/shoal-$$t || exit 1; \
	done

## test: lint, check generated code, and run every test
test: lint proto-check unit

## unit: go test over every module (unit, in-process cluster and e2e tests)
unit:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PACKAGES)

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l pkg proto services tests); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PACKAGES)

## tools: buf and the protoc plugins, pinned in tools/go.mod
tools:
	@mkdir -p $(TOOLS)
	cd tools && GOWORK=off CGO_ENABLED=0 $(GO) build -o ../$(TOOLS)/ github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go connectrpc.com/connect/cmd/protoc-gen-connect-go

## proto: lint the .proto files and regenerate proto/gen
proto: tools
	cd proto && PATH=$(CURDIR)/$(TOOLS):$$PATH buf lint && PATH=$(CURDIR)/$(TOOLS):$$PATH buf generate

## proto-check: fail if proto/gen is not what `make proto` generates
proto-check: tools
	@rm -rf $(BIN)/proto-check && mkdir -p $(BIN)/proto-check && cp -r proto/. $(BIN)/proto-check/
	cd $(BIN)/proto-check && PATH=$(CURDIR)/$(TOOLS):$$PATH buf lint && PATH=$(CURDIR)/$(TOOLS):$$PATH buf generate
	@diff -r proto/gen $(BIN)/proto-check/gen || (echo "proto/gen is stale: run make proto"; exit 1)
	@rm -rf $(BIN)/proto-check

## run: a local cluster (1 meta, 3 storage, 1 router) on localhost:6333
run: build
	./scripts/run-local.sh

clean:
	rm -rf $(BIN) data
