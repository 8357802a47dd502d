#!/usr/bin/env bash
# The whole test suite: formatting, generated files, builds and vet over the
# tag matrix, the tests (with -race on common/... and cpu), and a short fuzz
# run of the ONNX decoder. Installs what it needs when it can.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TAGS="ort opencl vulkan cuda tensorrt cambricon"
FUZZTIME="${ACCEL_FUZZTIME:-60s}"
step() { printf '\n== %s\n' "$*"; }
start=$(date +%s)

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

if grep -rq '^//go:generate' --include='*.go' .; then
  step "go generate (outputs must be committed unchanged)"
  go generate ./...
  if [ -d .git ] && ! git diff --quiet -- .; then
    echo "go generate changed committed files:"; git diff --stat; exit 1
  fi
fi

step "OpenCL (PoCL, on the CPU) (the opencl tag builds against the Khronos headers; its tests run on PoCL)"
if ./scripts/install-opencl.sh; then
  echo "PoCL and the OpenCL headers are installed"
elif [ -n "${CI:-}" ]; then
  echo "could not install PoCL under CI" >&2; exit 1
else
  echo "PoCL not installed: the opencl tests will skip"
fi

step "build: default, CGO_ENABLED=0, all tags"
go build ./...
CGO_ENABLED=0 go build ./...
go build -tags "$ALL_TAGS" ./...

step "vet: default and all tags"
go vet ./...
go vet -tags "$ALL_TAGS" ./...

step "tests with -race: common/... and cpu"
go test -race -count=1 ./common/... ./cpu

step "tests: the other packages, default build"
others=$(go list ./... | grep -v -e '/common' -e '/cpu$' || true)
[ -z "$others" ] || go test -count=1 $others

step "ONNX Runtime for the ort tests"
if lib=$(./scripts/fetch-onnxruntime.sh); then
  export ACCEL_ORT_LIB="$lib"
  echo "using $lib"
elif [ -n "${CI:-}" ]; then
  echo "could not fetch ONNX Runtime under CI" >&2; exit 1
else
  echo "ONNX Runtime not fetched: the ort tests will skip"
fi

step "tests: all tags"
go test -count=1 -tags "$ALL_TAGS" $(go list -tags "$ALL_TAGS" ./... | grep -v -e '/common' -e '/cpu$')

if [ -d common/onnx ] && grep -q 'func FuzzDecodeModel' common/onnx/*_test.go 2>/dev/null; then
  step "fuzz: FuzzDecodeModel for $FUZZTIME"
  go test -run '^$' -fuzz=FuzzDecodeModel -fuzztime="$FUZZTIME" ./common/onnx
fi

step "done in $(( $(date +%s) - start )) s"
