# The one test command (README, .ci/run): every module under -race.
# STRESS=1 turns on the largest stress sizes, which stay out of CI.
GO        ?= go
TESTFLAGS ?= -race -count=1 -timeout 25m
MODULES   := . benchmarks interop

.PHONY: test vet fmt-check bench

# The race detector makes sync.Pool drop items on purpose, so the
# zero-allocation tests that go through a pool only mean something without
# it: they run a second time, race detector off.
test:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO) test $(TESTFLAGS) ./...); done
	@echo "== go test (zero-allocation tests, no race detector)"
	@$(GO) test -count=1 -run 'Alloc' ./...

# The library's packages are vetted for other platforms too: off Linux they
# must compile (engine.New then fails with ErrUnsupported).
vet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	@set -e; for os in darwin freebsd windows; do echo "== GOOS=$$os go vet"; GOOS=$$os $(GO) vet ./...; done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@# A merge's conflict markers left in any tracked file (a README, too).
	@if git grep -n -E '^(<<<<<<<|>>>>>>>)( |$$)' -- . ':!*.patch'; then echo "conflict markers left"; exit 1; fi

bench:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...); done
