#!/bin/sh
# gpu-opencl.sh checks the OpenCL backend on a GPU machine that has an
# OpenCL driver (NVIDIA's platform is "NVIDIA CUDA") but no Go toolchain.
#
#   scripts/gpu-opencl.sh build   here, with Go: builds the test binary and
#                                 the accel tool into gpu/, and copies the
#                                 ONNX node tests and the testdata models.
#   scripts/gpu-opencl.sh run     there, from the repository root (or as
#                                 gpu/gpu-opencl.sh run after copying gpu/
#                                 alone): runs the package tests, the node
#                                 suite with and without CPU fallback and a
#                                 benchmark of every model against the CPU,
#                                 then prints a short table. Logs go to
#                                 gpu/logs/.
#
# ACCEL_OPENCL_DEVICE picks the platform or device by a substring of its
# name (default NVIDIA; use Portable for PoCL). BENCH_SECONDS sets the
# measuring time per backend and model (default 3).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/opencl.test" ] || [ "$(basename "$here")" = gpu ]; then
	gpu=$here
	root=$(dirname "$here")
else
	root=$(dirname "$here")
	gpu=$root/gpu
fi

build() {
	command -v go >/dev/null 2>&1 || { echo "gpu-opencl.sh build needs Go; run it where the repository builds" >&2; exit 1; }
	cd "$root"
	mkdir -p gpu/pkg/testdata gpu/models gpu/testdata
	go test -c -tags opencl -o gpu/opencl.test ./opencl
	go build -tags opencl -o gpu/accel ./cmd/accel
	tests=""
	for d in "${ACCEL_ONNX_TESTS:-}" ../shared/onnx-node-tests shared/onnx-node-tests; do
		if [ -n "$d" ] && [ -f "$d/INDEX.tsv" ]; then
			tests=$d
			break
		fi
	done
	[ -n "$tests" ] || { echo "ONNX node tests not found (set ACCEL_ONNX_TESTS)" >&2; exit 1; }
	if [ -d gpu/onnx-node-tests ]; then
		chmod -R u+w gpu/onnx-node-tests
		rm -rf gpu/onnx-node-tests
	fi
	cp -R "$tests" gpu/onnx-node-tests
	chmod -R u+w gpu/onnx-node-tests
	cp testdata/models/*.onnx gpu/models/
	if [ -f opencl/testdata/known_failures.tsv ]; then
		cp opencl/testdata/known_failures.tsv gpu/pkg/testdata/
	fi
	# The test binary runs in gpu/pkg and finds the models at ../testdata/models.
	rm -rf gpu/testdata/models
	ln -s ../models gpu/testdata/models
	cp scripts/gpu-opencl.sh gpu/gpu-opencl.sh
	echo "built $root/gpu: copy it to the GPU machine and run gpu/gpu-opencl.sh run"
}

# field prints column $2 of the bench line starting with $1 from file $3.
field() {
	awk -v k="$1" -v c="$2" 'index($0, k) == 1 { print $c; exit }' "$3"
}

run() {
	cd "$gpu"
	[ -x ./opencl.test ] && [ -x ./accel ] || { echo "no binaries in $gpu: run scripts/gpu-opencl.sh build first" >&2; exit 1; }
	export ACCEL_OPENCL_DEVICE="${ACCEL_OPENCL_DEVICE:-NVIDIA}"
	export ACCEL_CACHE_DIR="${ACCEL_CACHE_DIR:-$gpu/cache}"
	secs=${BENCH_SECONDS:-3}
	mkdir -p logs
	status=0
	./accel devices >logs/devices.log 2>&1 || true
	grep -A3 '^opencl' logs/devices.log || true

	echo "== package tests (device $ACCEL_OPENCL_DEVICE)"
	if (cd pkg && ACCEL_ONNX_TESTS="$gpu/onnx-node-tests" ../opencl.test -test.count=1 -test.timeout=40m -test.v) >logs/opencl-test.log 2>&1; then
		tests=ok
	else
		tests=FAIL
		status=1
		grep -E '^\s*--- FAIL|Error:' logs/opencl-test.log | head -40 || true
	fi
	suite_fb=$(grep -o 'opencl (with CPU fallback): .*' logs/opencl-test.log | tail -1 || true)
	suite_do=$(grep -o 'opencl (device only): .*' logs/opencl-test.log | tail -1 || true)

	echo "== accel conformance"
	./accel conformance --backend opencl onnx-node-tests >logs/conformance.log 2>&1 || status=1
	./accel conformance --backend opencl --device-only onnx-node-tests >logs/conformance-device-only.log 2>&1 || status=1
	conf_fb=$(tail -1 logs/conformance.log)
	conf_do=$(tail -1 logs/conformance-device-only.log)

	echo "== accel bench (${secs}s per backend and model)"
	rows=""
	for m in models/*.onnx; do
		name=$(basename "$m" .onnx)
		log=logs/bench-$name.log
		if ./accel bench --model "$m" --backend opencl --vs cpu --batch 1 --dim batch=1 --duration "${secs}s" >"$log" 2>&1; then
			rows="$rows$(printf '%-12s %10s %10s %8s' "$name" "$(field 'p50 ms' 3 "$log")" "$(field 'p50 ms' 4 "$log")" "$(field 'p50 ms' 5 "$log")")
"
		else
			rows="$rows$(printf '%-12s %s' "$name" "failed: $(tail -1 "$log")")
"
			status=1
		fi
	done

	echo
	echo "== summary (device: $ACCEL_OPENCL_DEVICE; logs in $gpu/logs)"
	printf '%-34s %s\n' "go test ./opencl" "$tests"
	printf '%-34s %s\n' "node suite, CPU fallback" "${suite_fb#opencl (with CPU fallback): }"
	printf '%-34s %s\n' "node suite, device only" "${suite_do#opencl (device only): }"
	printf '%-34s %s\n' "accel conformance" "$conf_fb"
	printf '%-34s %s\n' "accel conformance --device-only" "$conf_do"
	printf '\n%-12s %10s %10s %8s\n' model "opencl p50" "cpu p50" ratio
	printf '%s' "$rows"
	return $status
}

case "${1:-}" in
build) build ;;
run) run ;;
*)
	echo "usage: $0 build|run" >&2
	exit 2
	;;
esac
