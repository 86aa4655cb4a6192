# The one test command (README, .ci/run): every module under -race.
# STRESS=1 turns on the largest stress sizes, which stay out of CI.
GO        ?= go
TESTFLAGS ?= -race -count=1 -timeout 25m
MODULES   := . benchmarks

.PHONY: test vet fmt-check bench

test:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO) test $(TESTFLAGS) ./...); done

vet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...); done
