# intercom-gateway. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN        := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
BUF        := $(BIN)/buf
# google/api, google/rpc and the well-known google/protobuf protos come from
# this npm package, the one registry with them that works offline here
# (README, Development); 6.x needs Node 22. They are exactly the imports of
# proto/ plus error_details.proto, which clients need to decode BadRequest,
# ErrorInfo and RetryInfo.
GOOGLE_PROTOS_NPM := google-proto-files@5.0.3
GOOGLE_PROTOS := google/api/annotations.proto google/api/http.proto google/api/field_behavior.proto \
  google/rpc/status.proto google/rpc/error_details.proto
WELL_KNOWN_PROTOS := google/protobuf/any.proto google/protobuf/descriptor.proto google/protobuf/duration.proto \
  google/protobuf/struct.proto google/protobuf/timestamp.proto
THIRD_PARTY := third_party
PROTO_BUNDLE ?= dist/proto
GO_PKGS := $$(go list ./... | grep -v /gen/)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: tools
tools: $(BUF) ## Install the pinned code generators and buf into ./bin.
$(BUF): go.mod tools/go.mod
	GOBIN=$(BIN) go install tool
	GOBIN=$(BIN) go install -modfile=tools/go.mod tool
	@touch $(BUF)

.PHONY: third_party
third_party: $(THIRD_PARTY)/.stamp ## Fetch third-party protos into the git-ignored third_party/.
$(THIRD_PARTY)/.stamp:
	rm -rf $(THIRD_PARTY) && mkdir -p $(THIRD_PARTY)
	cd $(THIRD_PARTY) && npm pack --silent $(GOOGLE_PROTOS_NPM) >/dev/null && \
	  tar -xzf google-proto-files-*.tgz --strip-components=1 $(addprefix package/,$(GOOGLE_PROTOS)) && \
	  mkdir -p ../$(THIRD_PARTY).wkt && \
	  tar -xzf google-proto-files-*.tgz -C ../$(THIRD_PARTY).wkt --strip-components=1 $(addprefix package/,$(WELL_KNOWN_PROTOS)) && \
	  rm -f google-proto-files-*.tgz
	@# buf has the well-known types built in, so they are kept apart from the
	@# buf module and used only for the self-contained bundle.
	rm -rf $(THIRD_PARTY)/.wkt && mv $(THIRD_PARTY).wkt $(THIRD_PARTY)/.wkt
	chmod -R u+w $(THIRD_PARTY)
	touch $@

.PHONY: proto-bundle
proto-bundle: third_party ## The contract plus exactly the protos it imports, for protoc, buf or proto-loader (into $(PROTO_BUNDLE)).
	rm -rf $(PROTO_BUNDLE) && mkdir -p $(PROTO_BUNDLE)
	cp -r proto/intercom $(PROTO_BUNDLE)/
	cd $(THIRD_PARTY) && cp --parents $(GOOGLE_PROTOS) $(abspath $(PROTO_BUNDLE))/
	cd $(THIRD_PARTY)/.wkt && cp --parents $(WELL_KNOWN_PROTOS) $(abspath $(PROTO_BUNDLE))/
	@echo "proto bundle in $(PROTO_BUNDLE): protoc -I $(PROTO_BUNDLE) ..."

.PHONY: generate
generate: tools third_party ## Generate gen/ from proto/ (Go, gRPC, grpc-gateway, OpenAPI v2).
	$(BUF) generate

.PHONY: lint
lint: tools third_party ## buf lint, buf format check, go vet and gofmt.
	$(BUF) lint
	$(BUF) format --diff --exit-code proto
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

BREAKING_REF ?= HEAD~1
.PHONY: breaking
breaking: tools third_party ## buf breaking against the contract at BREAKING_REF (default: the previous commit).
	@# The third-party protos are not in git, so the old contract is laid out
	@# beside a copy of them instead of read with a .git# input.
	rm -rf .breaking && mkdir -p .breaking
	git archive $(BREAKING_REF) buf.yaml proto | tar -x -C .breaking
	cp -r $(THIRD_PARTY) .breaking/
	$(BUF) breaking --against .breaking; rc=$$?; rm -rf .breaking; exit $$rc

.PHONY: redis
redis: ## Start a throwaway redis-server for the integration tests (port 6390).
	@redis-cli -p 6390 ping >/dev/null 2>&1 || redis-server --port 6390 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no

.PHONY: examples
examples: proto-bundle ## Install the example clients' packages and generate their stubs (git-ignored gen/ folders).
	cd examples/typescript && npm ci --no-audit --no-fund --silent && rm -rf gen && mkdir gen && npm run -s generate
	rm -rf examples/python/gen && mkdir -p examples/python/gen
	cd $(PROTO_BUNDLE) && protoc -I . --python_out=$(abspath examples/python/gen) --grpc_python_out=$(abspath examples/python/gen) \
	  --plugin=protoc-gen-grpc_python=$$(command -v grpc_python_plugin) $$(find intercom google/api google/rpc -name '*.proto')

.PHONY: test
test: ## Run every test (the example clients too, where npm and protoc are installed).
	@if command -v npm >/dev/null && command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null; then \
	  $(MAKE) --no-print-directory examples; \
	else echo "npm, protoc or grpc_python_plugin missing: the TypeScript and Python examples will be skipped"; fi
	go test -race -count=1 ./...
	@# The rate limiter's fleet tests hold real-time targets (a share of
	@# every window), which -race makes meaningless: they run here without
	@# it, alone, one at a time (about a minute).
	RATELIMIT_FLEET=1 go test -count=1 -timeout 5m -run '^TestFleet' ./ratelimit/

# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a target that found nothing, printing only "context
# deadline exceeded" as the time runs out (go.dev/issue/75804, fixed in Go
# 1.27). A count has no deadline to race. 3000 runs take 2-10 s per target
# here, seeds included. A duration still works for long local runs
# (FUZZTIME=10m); a failure there that wrote no testdata/fuzz entry is that race.
FUZZTIME ?= 3000x
# Every fuzz target, as package:Target (go test -fuzz takes one at a time).
FUZZ_TARGETS := service:FuzzRPCIDs service:FuzzPageToken server:FuzzRESTBodies server:FuzzSearchQuery \
  upstream:FuzzDecodeResources config:FuzzLoad
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 3000x executions; e.g. FUZZTIME=1000000x). Seeds: */testdata/fuzz.
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ./$$pkg/ for $(FUZZTIME)"; \
	  go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg/; done

.PHONY: ratelimit-fleet
ratelimit-fleet: ## Shared limiter fleet tests without -race, longer than in make test: 3 and 20 replicas at 3x the budget, fairness, learning, Redis outage (RATELIMIT_FLEET_SECONDS, default 30).
	set -o pipefail; RATELIMIT_FLEET=1 RATELIMIT_FLEET_SECONDS=$${RATELIMIT_FLEET_SECONDS:-30} go test -count=1 -timeout 15m -run '^TestFleet' -v ./ratelimit | grep -E '^(=== RUN|--- |\s+fleet_test|ok|FAIL|PASS)'

SOAK_DURATION ?= 10m
SOAK_RATE ?= 40
.PHONY: soak
soak: ## Steady gRPC+REST load with faults for SOAK_DURATION (10m) at SOAK_RATE/s: soak-results/soak.json + soak.html (not in CI).
	set -o pipefail; go test -count=1 -timeout 0 -run '^TestSoak$$' -v ./server/ -args -soak.duration=$(SOAK_DURATION) -soak.rate=$(SOAK_RATE) | grep -E '^(=== RUN|--- |\s+soak_test|ok|FAIL|PASS)'

.PHONY: test-short
test-short: ## Run the fast tests only.
	go test -short ./...

# make bench BENCH_ARGS='-reps 5 -d 5s -rows gateway' passes flags to the
# harness (go run ./internal/bench -h lists them).
BENCH_ARGS ?=
.PHONY: bench
bench: ## Gateway vs bare proxy, sandbox and a fixed gRPC server: table + JSON in bench-results/.
	go build -o $(BIN)/gateway ./cmd/gateway
	go build -o $(BIN)/bench ./internal/bench
	$(BIN)/bench run -gateway $(BIN)/gateway $(BENCH_ARGS)

# Tracing's cost alone: its rows and the rows they divide, in short windows
# (1 s, 15 repetitions) so that each pair is measured about a second apart.
# On a shared machine whose speed drifts by a fifth over tens of seconds,
# that keeps the ratios within a few points of each other from run to run.
.PHONY: bench-tracing
bench-tracing: ## What tracing costs: the gateway-*-otel* rows against tracing off, 15 x 1 s windows.
	go build -o $(BIN)/gateway ./cmd/gateway
	go build -o $(BIN)/bench ./internal/bench
	$(BIN)/bench run -gateway $(BIN)/gateway -rows '^gateway-(grpc|rest)(-otel.*)?$$' -reps 15 -d 1s -warmup 300ms $(BENCH_ARGS)

# make bench-ab BASE=<git ref>: the gateway built from BASE runs beside this
# tree's, in the same run, with rows of its own (base-grpc, base-rest).
.PHONY: bench-ab
bench-ab: ## A/B in one run against the gateway built from BASE: make bench-ab BASE=origin/main
	@test -n "$(BASE)" || { echo "usage: make bench-ab BASE=<git ref>"; exit 2; }
	rm -rf .bench-base && mkdir -p .bench-base && git archive $(BASE) | tar -x -C .bench-base
	cd .bench-base && go build -o $(BIN)/gateway-base ./cmd/gateway
	rm -rf .bench-base
	go build -o $(BIN)/gateway ./cmd/gateway
	go build -o $(BIN)/bench ./internal/bench
	$(BIN)/bench run -gateway $(BIN)/gateway -baseline-gateway $(BIN)/gateway-base $(BENCH_ARGS)

.PHONY: bench-compare
bench-compare: ## Compare two bench JSON reports: make bench-compare OLD=a.json NEW=b.json
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make bench-compare OLD=<old.json> NEW=<new.json>"; exit 2; }
	go run ./internal/bench compare $(OLD) $(NEW)

.PHONY: bench-go
bench-go: ## Run the Go micro-benchmarks (in-process, for profiling).
	go test -run '^$$' -bench . -benchmem ./...

.PHONY: build
build: ## Build the gateway binary into ./bin/gateway (bin/gateway sandbox runs the simulator alone).
	go build -o $(BIN)/gateway ./cmd/gateway

.PHONY: run
# The binary runs without `go run` in between: go run exits 1 when it sees the
# Ctrl-C its child handled, which made `make run` end in an error after a
# clean shutdown.
run: build ## Start the gateway on the built-in Intercom sandbox, on loopback.
	$(BIN)/gateway --sandbox=on --grpc-addr=127.0.0.1:9090 --http-addr=127.0.0.1:8080 --log-format=text

.PHONY: clean
clean: ## Remove ./bin and third_party/.
	rm -rf $(BIN) $(THIRD_PARTY)
