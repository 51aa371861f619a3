# gsync developer entry points. Only Go is needed for build, demo and the
# unit tests; the interop tests also use rsync and sshd when installed.
GO      ?= go
BIN     ?= bin/gsync
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test demo bench lint clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gsync

# Unit and integration tests, with the race detector.
test:
	$(GO) test -race -count=1 -timeout 25m ./...

demo: build
	./scripts/demo.sh $(BIN)

# Go micro-benchmarks, then gsync against C rsync pushing to the same
# daemon (needs rsync; writes bench/results/).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	bench/daemon.sh $(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...

clean:
	rm -rf bin
