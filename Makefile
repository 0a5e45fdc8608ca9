GO ?= go
BIN := bin

.PHONY: build generate test e2e bench clean

# skiff (stripped: symbols are not needed for pprof or panics), plus the two small static
# programs that go into the images skiff builds itself.
build:
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(BIN)/skiff ./cmd/skiff
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(BIN)/pause ./cmd/pause
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(BIN)/toolbox ./cmd/toolbox

generate:
	$(GO) run k8s.io/kube-openapi/cmd/openapi-gen --output-dir internal/openapi --output-pkg skiff/internal/openapi \
		--output-file zz_generated.openapi.go --go-header-file hack/boilerplate.go.txt --report-filename /dev/null \
		$$(cat hack/openapi-packages.txt)

# Unit, integration and end-to-end tests; e2e tests start real skiff processes.
test: build
	$(GO) test -count=1 -timeout 60m ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./test/bench/... ./internal/...

clean:
	rm -rf $(BIN)
