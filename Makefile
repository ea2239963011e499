# StreamSpace Serverless. `make run` brings up the local stack; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
DDB_LOCAL := .cache/dynamodb-local
FUNCTIONS := meta users sessions apikeys teams sharing activity authorizer websocket notifier processor scheduler taskevents presignup
# Programs that are not Lambda functions (built for linux/arm64 like them, for their images).
PROGRAMS := gateway
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
export GOFLAGS := -buildvcs=false
# The CDK app (infra/, a Go module of its own so the functions and `go test ./...` never compile
# jsii): the pinned CDK CLI, jsii's unpacked libraries and the CLI's state all live in .cache/.
CDK_VERSION := 2.1148.1
CDK_STAMP := .cache/cdk/aws-cdk-$(CDK_VERSION).installed
INFRA_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_RUNTIME_PACKAGE_CACHE_ROOT=$(CURDIR)/.cache/jsii \
	CDK_DISABLE_CLI_TELEMETRY=true CDK_HOME=$(CURDIR)/.cache/cdk-home

.PHONY: runtime-packages run test test-unit build lint bench token cli dynamodb-local novnc console clean
.PHONY: synth cdk images push-images image-tools desktop-bin deploy-console
.DEFAULT_GOAL := help

help:
	@echo "make run | test | test-unit | build | lint | bench | token USER=alice [ROLE=admin] | synth | cdk ARGS=... | images | push-images REGISTRY=... | clean"

dynamodb-local: $(DDB_LOCAL)/DynamoDBLocal.jar
$(DDB_LOCAL)/DynamoDBLocal.jar: scripts/fetch-dynamodb-local.sh
	@scripts/fetch-dynamodb-local.sh $(DDB_LOCAL)

## novnc: the browser client the streaming gateway serves (npm @novnc/novnc, pinned, verified).
NOVNC := .cache/novnc-1.7.0
novnc: $(NOVNC)/core/rfb.js
$(NOVNC)/core/rfb.js: scripts/fetch-novnc.sh
	@scripts/fetch-novnc.sh $(NOVNC) >/dev/null

## console: the web console (console/: TypeScript, Preact, Vite; docs/console.md) built into
## .cache/console/dist, only when its sources changed; its npm packages come from the committed
## lockfile (npm ci) into the git-ignored console/node_modules.
CONSOLE_DIST := .cache/console/dist
CONSOLE_SRC := $(shell find console/src -type f 2>/dev/null) console/index.html console/tsconfig.json console/vite.config.ts
console: $(CONSOLE_DIST)/index.html
console/node_modules/.package-lock.json: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
$(CONSOLE_DIST)/index.html: console/node_modules/.package-lock.json $(CONSOLE_SRC)
	cd console && node_modules/.bin/tsc --noEmit && node_modules/.bin/vite build --logLevel warn --outDir $(CURDIR)/$(CONSOLE_DIST)
	@touch $@

## deploy-console: the built console and its config.json into a deployed stack's ConsoleBucket,
## then a CloudFront invalidation (STACK, default streamspace; the AWS CLI with credentials).
deploy-console: console
	@STACK="$(or $(STACK),streamspace)" scripts/deploy-console.sh

## run: the whole local stack (DynamoDB Local, APIs, notifier, token issuer); Ctrl-C stops it.
run: dynamodb-local novnc console cli
	@scripts/ensure-runtime-packages.sh --optional
	@exec .cache/bin/streamspace run

## token: print a token for USER (and ROLE) signed by the local issuer.
token: cli
	@.cache/bin/streamspace token -user "$(USER)" $(if $(ROLE),-role $(ROLE))

## runtime-packages: Debian packages of the local session runtime (Xvfb, x11vnc, noVNC, apps, Chromium).
runtime-packages:
	@scripts/ensure-runtime-packages.sh

cli:
	@$(GO) build -o .cache/bin/streamspace ./cmd/streamspace

## test: every test, against one shared DynamoDB Local instance. As root it first builds (or
## reuses, cached by its package list) the terminal image's root filesystem, which
## internal/images runs end to end.
test: dynamodb-local novnc console runtime-packages image-tools
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	@layer=""; if [ "$$(id -u)" = 0 ]; then layer=$$($(GO) run ./cmd/imagebuild rootfs terminal) || exit 1; \
	  else echo "not root: the terminal image is not built, its test skips"; fi; \
	  set -x; STREAMSPACE_TERMINAL_LAYER=$${layer:+$(CURDIR)/$$layer} DYNAMODB_LOCAL_DIR=$(CURDIR)/$(DDB_LOCAL) \
	  scripts/with-dynamodb-local.sh $(GO) test -count=1 -timeout 20m ./...
	cd infra && $(INFRA_ENV) $(GO) test -count=1 -timeout 20m ./...

## test-unit: the unit tier, in seconds: no Java, no network, no processes. -short skips every
## test that needs a part outside the test process (each calls tier.Integration, which says what
## it needs); -short and not a build tag, so plain `go test` and make test still run everything.
test-unit:
	$(GO) test -short ./...

## build: one arm64 bootstrap per function, with sizes.
build:
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-12s %6.1f MB\n' $$f "$$(echo "scale=1; $$(stat -c %s bin/$$f/bootstrap)/1048576" | bc)"; \
	done

## images: the desktop images (images/<name>) and the gateway image,
## as OCI image layouts in .cache/images/<name>.oci (root: mmdebstrap keeps file owners).
images: image-tools desktop-bin
	$(GO) run ./cmd/imagebuild desktop -entrypoint .cache/bin/desktop
	@if [ -d cmd/gateway ]; then \
	  novnc=$$(scripts/fetch-novnc.sh) && \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o .cache/bin/gateway ./cmd/gateway && \
	  $(GO) run ./cmd/imagebuild gateway -binary .cache/bin/gateway -novnc $$novnc; \
	else echo "no cmd/gateway yet: the gateway image is skipped"; fi

## push-images: push what make images built to REGISTRY as streamspace/<name>:$(TAG) (default
## latest), with ECR credentials from the AWS SDK's usual sources; missing repositories are created.
push-images:
	@test -n "$(REGISTRY)" || { echo "usage: make push-images REGISTRY=<account>.dkr.ecr.<region>.amazonaws.com [TAG=latest]"; exit 2; }
	$(GO) run ./cmd/imagebuild push -registry $(REGISTRY) -tag $(or $(TAG),latest)

image-tools:
	@scripts/ensure-image-tools.sh

desktop-bin:
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o .cache/bin/desktop ./cmd/desktop

lint:
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	cfn-lint template.yaml
	$(GO) mod tidy -diff
	cd infra && $(GO) mod tidy -diff

## bench: measured figures (notification latency, fan-out, DynamoDB calls and consumed capacity per route with the cost model of
## docs/cost.md, sustained load, the streaming gateway
## against websockify (docs/gateway-bench.md), local create → running, init time under the Lambda RIE,
## the hot-partition simulation before and after sharding (docs/data-model.md), access ended →
## stream closed (docs/gateway.md)).
bench: dynamodb-local novnc console runtime-packages
	DYNAMODB_LOCAL_DIR=$(CURDIR)/$(DDB_LOCAL) scripts/with-dynamodb-local.sh $(GO) test -count=1 -timeout 30m -run '^$$' -bench . -benchtime 1x ./internal/e2e/
	@scripts/init-bench.sh
	@$(GO) test -count=1 -run '^TestHotPartitionSimulation$$' -v ./internal/ddb/ | grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok'

## synth: the CDK app's template and function assets in infra/cdk.out, with the real `cdk synth`
## (offline; the functions are cross-compiled on this machine, no Docker).
synth: $(CDK_STAMP)
	rm -rf infra/cdk.out
	cd infra && $(INFRA_ENV) $(CURDIR)/.cache/cdk/node_modules/.bin/cdk synth --no-notices --quiet
	@ls infra/cdk.out/*.template.json

## cdk: the pinned CDK CLI in infra/, e.g. make cdk ARGS="deploy --parameters AlarmEmail=ops@example.com"
cdk: $(CDK_STAMP)
	cd infra && $(INFRA_ENV) $(CURDIR)/.cache/cdk/node_modules/.bin/cdk $(ARGS)

$(CDK_STAMP):
	npm install --prefix .cache/cdk --no-audit --no-fund --no-save aws-cdk@$(CDK_VERSION)
	touch $@

clean:
	rm -rf bin .aws-sam

# SAM `BuildMethod: makefile` targets: sam build calls build-<LogicalId> with ARTIFACTS_DIR set.
build-MetaFunction build-UsersFunction build-SessionsFunction build-ApikeysFunction build-TeamsFunction build-SharingFunction build-ActivityFunction build-AuthorizerFunction build-WebsocketFunction build-NotifierFunction build-ProcessorFunction build-SchedulerFunction build-TaskEventsFunction build-PresignupFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo $(patsubst build-%Function,%,$@) | tr A-Z a-z)
