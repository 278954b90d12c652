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
PACKAGES  := ./pkg/... ./proto/... ./services/meta/... ./services/router/... ./services/storage/... ./tests/... ./tests/container/... ./deploy/...
TOOLS     := $(BIN)/tools
TEST_TIMEOUT ?= 15m

.PHONY: all build test unit lint proto proto-check run clean tools images compose-up compose-down container-test

# Container images and compose (see docs/DEPLOYMENT.md). The image tag is
# the version with characters Docker does not accept in a tag replaced. A
# rebuild deletes the image :dev named before once no tag names it (unless
# a container still uses it).
DOCKER    ?= docker
COMPOSE   ?= $(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" || echo docker-compose)
# BuildKit when the buildx plugin is there, else the classic builder.
DOCKER_BUILDKIT ?= $(shell $(DOCKER) buildx version >/dev/null 2>&1 && echo 1 || echo 0)
IMAGE_TAG := $(shell printf '%s' '$(VERSION)' | tr -c 'A-Za-z0-9_.-' '-')
COMPOSE_FILE := deploy/compose/docker-compose.yml
COMPOSE_PROJECT ?= shoal

all: build

## build: static binaries for every tier into bin/ (SIMD distance kernels: GOEXPERIMENT=simd)
build:
	@mkdir -p $(BIN)
	@for t in $(TIERS); do \
		echo "build $(BIN)/shoal-$$t"; \
		GOEXPERIMENT=simd CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/shoal-$$t ./services/$$t/cmd/shoal-$$t || exit 1; \
	done

## test: lint, check generated code, and run every test
test: lint proto-check unit

## unit: go test over every module (unit, in-process cluster and e2e tests)
unit:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PACKAGES)
	# The SIMD kernels that `make build` uses, against the same references.
	GOEXPERIMENT=simd $(GO) test -count=1 ./services/storage/internal/distance/... ./services/storage/internal/hnsw/...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l pkg proto services tests deploy); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
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

## images: shoal-meta, shoal-router and shoal-storage images (FROM scratch) tagged :dev and :$(IMAGE_TAG)
images: build
	@for t in $(TIERS); do \
		ctx=$(BIN)/image/$$t; rm -rf $$ctx && mkdir -p $$ctx/config $$ctx/storage || exit 1; \
		cp $(BIN)/shoal-$$t $$ctx/ && cp config/config.yaml $$ctx/config/ && cp deploy/docker/$$t.Dockerfile $$ctx/Dockerfile || exit 1; \
		echo "image shoal-$$t:dev shoal-$$t:$(IMAGE_TAG)"; \
		old=$$($(DOCKER) image inspect -f '{{.Id}}' shoal-$$t:dev 2>/dev/null); \
		out=$$(DOCKER_BUILDKIT=$(DOCKER_BUILDKIT) $(DOCKER) build -q -t shoal-$$t:dev -t shoal-$$t:$(IMAGE_TAG) \
			--build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) $$ctx 2>&1) || { echo "$$out"; exit 1; }; \
		if [ -n "$$old" ] && [ "$$($(DOCKER) image inspect -f '{{len .RepoTags}}' "$$old" 2>/dev/null)" = 0 ]; then \
			$(DOCKER) image rm "$$old" >/dev/null 2>&1 || true; \
		fi; \
	done

## compose-up: build the images, then start the compose cluster (3 meta, 3 storage, 2 routers; REST on localhost:6333)
compose-up: images
	$(COMPOSE) -f $(COMPOSE_FILE) -p $(COMPOSE_PROJECT) up -d
	@echo "REST: http://localhost:$${SHOAL_REST_PORT:-6333} (router-1), http://localhost:$${SHOAL_REST_PORT_2:-6343} (router-2)"

## compose-down: stop the compose cluster and delete its volumes
compose-down:
	$(COMPOSE) -f $(COMPOSE_FILE) -p $(COMPOSE_PROJECT) --profile scale down -v --remove-orphans

## container-test: only the container tests (images, compose cluster, faults); skipped without Docker
container-test:
	$(GO) test -count=1 -v -timeout $(TEST_TIMEOUT) ./tests/container/...

clean:
	rm -rf $(BIN) data
