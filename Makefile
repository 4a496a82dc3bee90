# xchat-go build and test entry points. See README.md.
#
#   make test      every test (installs Go modules, the interop suites' npm packages and
#                  PostgreSQL for the keystore/pgstore and multi-replica tests)
#   make install   go install ./cmd/... (xchat, xchatd, xchat-demo, xchat-bench into $(go env GOBIN), else $(go env GOPATH)/bin)
#   make demo      the end-to-end demo on an in-process emulator
#   make check     gofmt + go vet + staticcheck
#   make generate  regenerate thriftgen/ from idl/ (needs thrift-compiler 0.17)
#   make vectors   regenerate testvectors/xchat.json from its fixed seed
#   make fuzz      run every fuzz target for FUZZTIME (default 60s) each
#   make bench     run the benchmarks (BENCHFLAGS=-short: without the 100k-event rows)

GO          ?= go
FUZZTIME    ?= 60s
BENCHFLAGS  ?=
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all test unit gencheck interop-deps pg-deps interop demo install check generate vectors fuzz bench clean

all: check test

test: gencheck interop-deps pg-deps unit

deps:
	$(GO) mod download

unit: deps
	$(GO) vet ./...
	./scripts/test.sh

gencheck:
	./scripts/check-generate.sh

pg-deps:
	@./scripts/pg-deps.sh

interop-deps:
	@command -v node >/dev/null || { echo "interop: node is required (apt-get install nodejs npm)"; exit 1; }
	cd interop && npm ci --no-audit --no-fund --loglevel=error
	cd interop/juicebox && npm ci --no-audit --no-fund --loglevel=error

interop: interop-deps
	$(GO) test -count=1 ./interop/...

demo:
	$(GO) run ./cmd/xchat-demo

install:
	$(GO) install ./cmd/...
	@bin=$$($(GO) env GOBIN); [ -n "$$bin" ] || bin=$$($(GO) env GOPATH)/bin; \
	echo "installed xchat, xchatd, xchat-demo and xchat-bench in $$bin (add it to PATH)"

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

generate:
	./scripts/generate.sh

vectors:
	$(GO) run ./testvectors/cmd/genvectors -out testvectors/xchat.json

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench: pg-deps
	@if command -v node >/dev/null; then $(MAKE) --no-print-directory interop-deps; fi
	$(GO) run ./cmd/xchat-bench $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200ms ./crypto/... ./wire ./session ./internal/inbound ./internal/bench

clean:
	rm -rf interop/node_modules interop/juicebox/node_modules
