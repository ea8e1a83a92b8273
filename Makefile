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
# A count of inputs, not a duration: Go 1.26's fuzzing coordinator can fail a clean run with "context
# deadline exceeded" when a duration ends (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME ?= 1000000x
SCHEDULES ?= 20000

.DEFAULT_GOAL := help
.PHONY: help demo sandbox sandbox-event build build-ResponderFunction package test fuzz soak bench lint deploy

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## Watch Rewind roll back a broken release on this machine, no AWS account (about 20 s)
	@echo "building the demo (a first run on a new machine compiles the AWS SDK: a minute or two) ..."
	@mkdir -p .build && $(GO) build -o .build/rewind-demo ./pkg/support/demo/cmd/rewind-demo && exec .build/rewind-demo $(DEMO_FLAGS)

build: ## Build the Lambda function into .build/bootstrap (arm64; GOARCH_LAMBDA=amd64 for x86; STRATEGIES=rest for REST stages only, smaller)
	mkdir -p $(ARTIFACTS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/responder

build-ResponderFunction: build ## The same, under the name sam build calls

package: build ## Make what a StackSet deploys: .build/rewind.zip and .build/stackset-template.json, the template in plain CloudFormation (see docs/organizations.md)
	$(GO) run ./pkg/support/samtemplate/cmd/rewind-package -template template.yaml -bootstrap $(ARTIFACTS_DIR)/bootstrap -out $(ARTIFACTS_DIR)

test: ## Run every test (what CI runs), then print the figures they measured
	@figures=$$(mktemp); echo "$(GO) test -race -count=1 ./..."; \
	  REWIND_FIGURES=$$figures $(GO) test -race -count=1 ./...; rc=$$?; \
	  echo; echo "figures measured by this run:"; sort $$figures | sed 's/^/  /'; rm -f $$figures; exit $$rc

fuzz: ## Feed random inputs to every decoder, FUZZTIME each (default 1000000x: a million inputs)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

soak: ## Run the random incident schedules SCHEDULES times (default 20000; make test runs 1000)
	REWIND_SCHEDULES=$(SCHEDULES) $(GO) test -count=1 -run 'Schedules' -timeout 60m ./...

bench: ## Measure speed, calls, memory, size and cold start, printed as one table (about 5 minutes)
	$(GO) run ./pkg/support/bench/cmd/rewind-bench

lint: ## Check formatting, vet, staticcheck, go.mod, that the function links no test support code, and the template (cfn-lint)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	cp go.mod /tmp/rewind-go.mod.bak && cp go.sum /tmp/rewind-go.sum.bak && $(GO) mod tidy && \
	  if ! diff -q go.mod /tmp/rewind-go.mod.bak >/dev/null || ! diff -q go.sum /tmp/rewind-go.sum.bak >/dev/null; then \
	    cp /tmp/rewind-go.mod.bak go.mod; cp /tmp/rewind-go.sum.bak go.sum; echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi
	@support=$$($(GO) list -deps ./functions/responder | grep -E '/rewind/pkg/(support|rollback/rollbacktest)' || true); \
	  if [ -n "$$support" ]; then echo "bootstrap links support code:"; echo "$$support"; exit 1; fi; echo "bootstrap links no support code"
	cfn-lint template.yaml

deploy: ## Deploy to your AWS account with SAM (sam build && sam deploy --guided)
	sam build && sam deploy --guided --stack-name $(STACK_NAME)

sandbox: ## Try Rewind by hand, no AWS account: a local API Gateway and Rewind's real function, until Ctrl-C; prints the commands to try (SANDBOX_FLAGS=-port=N moves its ports 8910-8912)
	@mkdir -p .build && $(GO) build -o .build/rewind-sandbox ./pkg/support/demo/cmd/rewind-sandbox && exec .build/rewind-sandbox $(SANDBOX_FLAGS)

sandbox-event: ## Send an event to the running sandbox and print Rewind's answer: EVENT=alarm (a fresh alarm) or a file in testdata/events
	@$(GO) run ./pkg/support/demo/cmd/rewind-sandbox event $(EVENT)
