# Rewind — see README.md. `make` (or `make help`) lists the targets.
SHELL := /bin/bash
GO ?= go
GOARCH_LAMBDA ?= arm64
# STRATEGIES=all (default) moves every kind of target; STRATEGIES=rest builds a smaller bootstrap that
# moves REST stages only (no API Gateway v2, Lambda or CloudFront client).
STRATEGIES ?= all
ifeq ($(STRATEGIES),all)
BUILD_TAGS := lambda.norpc
else ifeq ($(STRATEGIES),rest)
BUILD_TAGS := lambda.norpc,rewind_rest_only
else
$(error STRATEGIES=$(STRATEGIES): want all or rest)
endif
BUILD_FLAGS := -tags $(BUILD_TAGS) -trimpath -ldflags "-s -w"
# sam build sets ARTIFACTS_DIR; a plain `make build` puts bootstrap in .build/ (a dot folder: the top
# level holds only what the design card lists).
ARTIFACTS_DIR ?= .build
STACK_NAME ?= rewind
FUZZTIME ?= 20s
SCHEDULES ?= 20000

.DEFAULT_GOAL := help
.PHONY: help demo build build-ResponderFunction test fuzz soak bench lint deploy

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## The seed's incident locally, no AWS account: broken release, alarm, the real bootstrap rolls back
	$(GO) run ./pkg/demo/cmd/rewind-demo $(DEMO_FLAGS)

build: ## Build the Lambda bootstrap (linux/arm64 unless GOARCH_LAMBDA=amd64; STRATEGIES=rest: REST stages only, smaller) into .build/bootstrap
	mkdir -p $(ARTIFACTS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/responder

build-ResponderFunction: build ## What `sam build` calls (BuildMethod: makefile)

test: ## Run every test (unit, wire, end-to-end, awscli, moto_server), then print the figures they measured; what CI runs
	@figures=$$(mktemp); echo "$(GO) test -race -count=1 ./..."; \
	  REWIND_FIGURES=$$figures $(GO) test -race -count=1 ./...; rc=$$?; \
	  echo; echo "figures measured by this run:"; sort $$figures | sed 's/^/  /'; rm -f $$figures; exit $$rc

fuzz: ## Run every fuzz target for FUZZTIME each (default 20s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

soak: ## The randomized schedule test with SCHEDULES schedules (default 20000)
	REWIND_SCHEDULES=$(SCHEDULES) $(GO) test -count=1 -run 'Schedules' -timeout 60m ./...

bench: ## Benchmarks (benchstat) and process-level figures, printed as one markdown table
	$(GO) run ./pkg/bench/cmd/rewind-bench

lint: ## gofmt, go vet, staticcheck, go mod tidy check, cfn-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	cp go.mod /tmp/rewind-go.mod.bak && cp go.sum /tmp/rewind-go.sum.bak && $(GO) mod tidy && \
	  if ! diff -q go.mod /tmp/rewind-go.mod.bak >/dev/null || ! diff -q go.sum /tmp/rewind-go.sum.bak >/dev/null; then \
	    cp /tmp/rewind-go.mod.bak go.mod; cp /tmp/rewind-go.sum.bak go.sum; echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi
	cfn-lint template.yaml

deploy: ## Build and deploy with SAM: sam build && sam deploy --guided
	sam build && sam deploy --guided --stack-name $(STACK_NAME)

.PHONY: sandbox sandbox-event
sandbox: ## Try Rewind by hand, no AWS account: a local API Gateway and Rewind's real function, until Ctrl-C; prints the commands to try (SANDBOX_FLAGS=-port=N moves its ports 8910-8912)
	@mkdir -p .build && $(GO) build -o .build/rewind-sandbox ./pkg/demo/cmd/rewind-sandbox && exec .build/rewind-sandbox $(SANDBOX_FLAGS)

sandbox-event: ## Send an event to the running sandbox and print Rewind's answer: EVENT=alarm (a fresh alarm) or a file in testdata/events
	@$(GO) run ./pkg/demo/cmd/rewind-sandbox event $(EVENT)
