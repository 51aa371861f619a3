# gsync developer entry points. Only Go is needed for build, demo and the
# unit tests; the interop tests also use rsync and sshd when installed.
GO      ?= go
BIN     ?= bin/gsync
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test stress demo bench lint staticcheck clean release

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gsync

# Unit and integration tests, with the race detector, and meanwhile a
# short fuzz run of each protocol decoder (what the fuzzer found so far is
# kept in rsyncproto/testdata/fuzz and replayed by every go test, and
# again by each fuzz run before it fuzzes). Most test time is spent
# waiting for peers and processes, so the packages run four at a time,
# ./integration (the longest) first, and the fuzz runs (one worker each)
# run beside them. The budget is a count of executions, not a duration:
# with a duration, Go 1.26's fuzz coordinator can fail a busy machine's
# run with a bare "context deadline exceeded" at the end
# (go.dev/issue/75804). Each entry is TARGET:EXECUTIONS, sized to a few
# seconds here.
FUZZ_TARGETS := FuzzVarint:25000 FuzzNdx:25000 FuzzDemux:5000 FuzzFlist:25000 FuzzSumHead:25000 FuzzTokens:3000 FuzzSession:10000 FuzzXattrRequest:10000
FUZZ_SCALE   ?= 1
# The tests' scratch space (TMPDIR: t.TempDir, the test binaries) is
# /dev/shm when that is a tmpfs like /tmp (mode 1777: tests run
# processes as nobody and as an ordinary user there), not noexec, with
# 4 GiB free; else the default. On the project's 2-core VMs / is an ext4
# without a journal, where creating a file scans the inode table for
# inodes deleted in the last minutes (fs/ext4/ialloc.c: recently_deleted):
# the tests create and delete hundreds of thousands of files, and that
# kernel time was a third of ./integration's CPU (TestFidelity alone: 28 s
# of CPU on /, 17 s on tmpfs). Tests that need another file system than
# TMPDIR's mount a tmpfs or use /var/tmp. TEST_TMPDIR= keeps $TMPDIR.
TEST_TMPDIR ?= $(shell d=/dev/shm; [ "$$(stat -f -c %T $$d 2>/dev/null)" = tmpfs ] && \
	[ "$$(stat -c %a $$d 2>/dev/null)" = 1777 ] && \
	! findmnt -no OPTIONS --target $$d 2>/dev/null | grep -qw noexec && \
	[ "$$(df -k --output=avail $$d 2>/dev/null | tail -1)" -ge 4194304 ] 2>/dev/null && echo $$d)
test:
	@if [ -n "$(TEST_TMPDIR)" ]; then export TMPDIR="$(TEST_TMPDIR)"; echo "make test: TMPDIR=$$TMPDIR"; fi; \
	$(GO) test -race -count=1 -p 4 -timeout 25m ./integration ./... & pkgs=$$!; \
	fuzz=0; for e in $(FUZZ_TARGETS); do \
		$(GO) test -run '^$$' -fuzz "^$${e%%:*}$$" -parallel 1 -fuzztime $$(( $${e##*:} * $(FUZZ_SCALE) ))x ./rsyncproto || { fuzz=1; break; }; \
	done; \
	wait $$pkgs; rc=$$?; \
	if [ $$fuzz -ne 0 ]; then echo "make test: a fuzz run failed" >&2; exit 1; fi; \
	exit $$rc

# The long reliability runs: 3,000 churn operations and three seeds per
# target type (and the 5,000-file acceptance tree at every protocol and on
# gokrazy, not only at 32), TestLocalLiveChurn's 2,000 operations, the
# fault and name tests, every lsyncd corpus config and
# every fidelity case over ssh too, every compression row against rsync
# --server (codecs at protocol 31 as well as 32, every zlib level kind), the delay model over 100,000
# seeds, and 40 times the fuzzing of make test.
stress:
	GSYNC_STRESS=1 $(GO) test -count=1 -timeout 90m -v \
		-run 'TestChurnAllTargets|TestLocalLiveChurn|TestFault|TestHostileNames|TestUnreadableFiles|TestLsyncdCorpus|TestFidelity' ./integration
	GSYNC_STRESS=1 $(GO) test -count=1 -race -run 'TestCompressedPushSSH|TestCompressLevelsInterop' ./rsyncproto
	$(GO) test -count=1 -race -run '^TestModel' ./delay -model.seeds=100000 -model.from0
	@set -e; for e in $(FUZZ_TARGETS); do \
		$(GO) test -run '^$$' -fuzz "^$${e%%:*}$$" -fuzztime $$(( $${e##*:} * 40 ))x ./rsyncproto; \
	done

demo: build
	./scripts/demo.sh $(BIN)

# Go micro-benchmarks; then gsync against lsyncd + rsync (when installed)
# on an rsync daemon and sshd started on 127.0.0.1 (BENCH_SCALE=0.1 for a
# quick run, see bench/compare_test.go); then gsync against C rsync pushing
# to the same daemon (needs rsync), and the --bwlimit rate (a minute).
# Results go to bench/results/.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	BENCH_GSYNC=$(abspath $(BIN)) $(GO) test -run '^$$' -bench '^BenchmarkCompare$$' -benchtime 1x -count=1 -timeout 60m ./bench
	bench/daemon.sh $(BIN)
	bench/bwlimit.sh $(BIN)

# gofmt, go vet, the darwin build (the fsnotify watcher backend), and no
# tracked file over MAX_FILE_BYTES (1 MiB: binaries, captures and
# generated trees stay out of git).
MAX_FILE_BYTES := 1048576
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	GOOS=darwin $(GO) build ./...
	@git ls-files | { fail=0; while IFS= read -r f; do \
		if [ -f "$$f" ] && [ ! -L "$$f" ]; then size=$$(wc -c < "$$f"); \
			if [ $$size -gt $(MAX_FILE_BYTES) ]; then echo "$$f: $$size bytes, over the $(MAX_FILE_BYTES)-byte limit for a tracked file" >&2; fail=1; fi; \
		fi; \
	done; exit $$fail; }

# staticcheck at the version pinned by the tool directive in go.mod.
staticcheck:
	$(GO) tool staticcheck ./...

clean:
	rm -rf bin

# Static release binaries (no cgo, no libc, stripped, version stamped) for
# linux/amd64 and linux/arm64, plus dist/SHA256SUMS. Prints each size and
# fails when a binary exceeds the size budget, 15 MiB (RELEASE_MAX_BYTES).
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
RELEASE_MAX_BYTES := 15728640
COMMIT            ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
RELEASE_LDFLAGS   := $(LDFLAGS) -X main.commit=$(COMMIT)

release:
	rm -rf dist
	mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/gsync-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o $$out ./cmd/gsync; \
	done
	cd dist && sha256sum gsync-* > SHA256SUMS
	@set -e; fail=0; for f in dist/gsync-*; do \
		size=$$(stat -c %s $$f); \
		printf '%-24s %10d bytes  %5.2f MiB\n' $$f $$size $$(awk "BEGIN{print $$size/1048576}"); \
		if command -v file >/dev/null; then file -b $$f | sed 's/^/    /'; fi; \
		if [ $$size -gt $(RELEASE_MAX_BYTES) ]; then echo "$$f: $$size bytes is over the size budget of $(RELEASE_MAX_BYTES) bytes" >&2; fail=1; fi; \
	done; exit $$fail
	@cat dist/SHA256SUMS
