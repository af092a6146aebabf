# Signet — developer commands. Only Go is needed for `run` and `test`.
GO        ?= go
TESTFLAGS ?=
PG_URL    ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run build test test-services bench loadbench loadbench-history fuzz faults cluster memory lint fmt mutate mutate-report

## run: serve on :8080 with the embedded default (SQLite in ./data, in-process replay store)
run:
	$(GO) run ./cmd/signet serve

## build: build the signet binary into ./bin
build:
	$(GO) build -o bin/signet ./cmd/signet

## test: the whole test suite; PostgreSQL, Redis and browser tests join when their env vars are set. It ends
## with the list of tests skipped for lack of PostgreSQL, Redis or Chromium (scripts/testreport runs
## go test -json; built, not go run, because go run turns every failing exit status into 1)
test:
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && $(GO) build -o "$$dir/testreport" ./scripts/testreport && \
		GO='$(GO)' "$$dir/testreport" $(TESTFLAGS) ./...

## test-services: the suite against local PostgreSQL and Redis, failing if either is missing
test-services:
	SIGNET_TEST_POSTGRES_URL='$(PG_URL)' SIGNET_TEST_REDIS_URL='$(REDIS_URL)' SIGNET_TEST_REQUIRE_SERVICES=1 \
		$(GO) test -race -count=1 $(TESTFLAGS) ./...

## bench: benchmarks (uses PostgreSQL/Redis when SIGNET_TEST_POSTGRES_URL / SIGNET_TEST_REDIS_URL are set)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(TESTFLAGS) ./...

## loadbench: signet bench through every flow against a signet, gateway and demo upstream started here on a
## fresh PostgreSQL database and the local Redis (CPU_REPORT=1 adds the CPU time of each process)
loadbench:
	PG_URL='$(PG_URL)' REDIS_URL='$(REDIS_URL)' ./scripts/loadbench.sh $(BENCHFLAGS)

## loadbench-history: the device-key and passkey flows on an empty database and on one bulk-loaded with 1M
## operations and their audit events (OPERATIONS, USERS, MONTHS, ROUNDS, DURATION: scripts/loadbench-history.sh),
## both in one run, and the ratio; the PostgreSQL role must be a superuser (the bulk load skips triggers)
loadbench-history:
	PG_URL='$(PG_URL)' REDIS_URL='$(REDIS_URL)' ./scripts/loadbench-history.sh

## fuzz: every fuzz target for FUZZTIME each (default 10s); crashers land in testdata/fuzz as regression inputs
fuzz:
	./scripts/fuzz.sh

## faults: a real signet and gateway on PostgreSQL + Redis under load while Redis stops for 5 s and PostgreSQL restarts,
## then proof that nothing was approved or accepted twice or lost (restarts the local PostgreSQL!)
FAULTS_SHORT ?=
faults:
	SIGNET_FAULTS=1 SIGNET_FAULTS_SHORT='$(FAULTS_SHORT)' SIGNET_TEST_POSTGRES_URL='$(PG_URL)' \
		SIGNET_TEST_REDIS_URL='$(REDIS_URL)' SIGNET_TEST_REQUIRE_SERVICES=1 \
		$(GO) test -count=1 -v -run '^TestFaults$$' ./faults

## mutate: mutation testing with gremlins, one package of PKGS at a time (its subpackages are left out: name
## them in PKGS), then the mutants in case expressions that gremlins cannot run (scripts/mutatecases).
## -count=1: a cached coverage run would make every mutant time out. -cpu=1 goes through GOFLAGS, never
## gremlins' --test-cpu: v0.6.0 passes that as the single argument "-cpu 1", which go test cannot take (it
## exits 1), so every mutant is reported KILLED and no test runs; make mutate refuses it. Slow: minutes to an
## hour per package on two cores. Kill rates and the equivalent survivors: docs/testing.md. JSON results
## land in MUTATE_OUT.
GREMLINS ?= github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
PKGS ?= txsign txsign/verify gateway webauthn activation powerauth
MUTATE_OUT ?= .mutate
MUTATE_FLAGS ?= --workers 1 --timeout-coefficient 10
mutate:
	@case '$(MUTATE_FLAGS)' in *--test-cpu*) echo "make mutate: --test-cpu makes gremlins v0.6.0 report every mutant" \
		"KILLED without running a test; set -cpu in GOFLAGS instead" >&2; exit 2;; esac
	@mkdir -p $(MUTATE_OUT); for p in $(PKGS); do \
		echo "== mutate ./$$p"; \
		out=$(MUTATE_OUT)/$$(echo $$p | tr / -); \
		GOFLAGS='-count=1 -cpu=1 -vet=off' $(GO) run $(GREMLINS) unleash $(MUTATE_FLAGS) --exclude-files / \
			--output $$out.json ./$$p || exit $$?; \
		echo "== mutants in case expressions of ./$$p"; \
		$(GO) run ./scripts/mutatecases -o $$out-cases.json ./$$p $$out.json || exit $$?; \
	done
	@$(MAKE) --no-print-directory mutate-report

## mutate-report: the kill rate of each package of PKGS from its last make mutate results (gremlins' and the
## case-expression mutants'), and every mutant that lived or timed out (scripts/mutatereport)
mutate-report:
	@$(GO) run ./scripts/mutatereport $(foreach p,$(PKGS),$(p)=$(MUTATE_OUT)/$(subst /,-,$(p)).json \
		$(p)=$(MUTATE_OUT)/$(subst /,-,$(p))-cases.json)

## cluster: three signet replicas on a fresh PostgreSQL schema and the local Redis behind HAProxy (needs haproxy),
## restarted one by one under load with a key rotation, then proof that no request failed, nothing was approved or
## expired twice, every waiter woke and every webhook arrived once; reports throughput with 1 and 3 replicas
CLUSTER_SHORT ?=
cluster:
	SIGNET_CLUSTER=1 SIGNET_CLUSTER_SHORT='$(CLUSTER_SHORT)' SIGNET_TEST_POSTGRES_URL='$(PG_URL)' \
		SIGNET_TEST_REDIS_URL='$(REDIS_URL)' SIGNET_TEST_REQUIRE_SERVICES=1 \
		$(GO) test -count=1 -v -timeout 15m -run '^TestCluster$$' ./cluster

## memory: resident memory of a server holding 100k users and 1M audit events, under load
memory:
	./scripts/memory.sh

## lint: go vet, staticcheck and the gofmt check
lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fmt: format the code
fmt:
	gofmt -w $$(git ls-files '*.go')
