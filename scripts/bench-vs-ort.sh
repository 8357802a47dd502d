#!/usr/bin/env bash
# Benchmarks the CPU engine against ONNX Runtime on the generated models, in
# one process per case with the two backends alternating rounds, and prints
# a markdown table of p50 latencies and their ratio (docs/perf.md).
#
#   scripts/bench-vs-ort.sh [ITERATIONS]
#
# MODELS, THREADS and BATCHES override the lists below.
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-10}"
MODELS="${MODELS:-resnet18 mobilenetv2 cnn attention lstm mlp}"
THREADS="${THREADS:-1 2}"
BATCHES="${BATCHES:-1 8}"
export ACCEL_ORT_LIB="${ACCEL_ORT_LIB:-$(./scripts/fetch-onnxruntime.sh)}"
[ -f testdata/models/big/resnet18.onnx ] || go run ./internal/cmd/genmodels -big -out testdata/models >/dev/null
bin=$(mktemp -d)/accel
go build -tags ort -o "$bin" ./cmd/accel
echo "| model | batch | threads | cpu p50 ms (min–max) | ort p50 ms (min–max) | cpu / ort (p50) |"
echo "|---|---|---|---|---|---|"
for m in $MODELS; do
  f=testdata/models/$m.onnx
  [ -f "$f" ] || f=testdata/models/big/$m.onnx
  for b in $BATCHES; do
    for t in $THREADS; do
      "$bin" bench --model "$f" --backend cpu --vs ort --threads "$t" --dim batch="$b" \
        --iterations "$iters" --warmup 2 --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin); v = r["vs"]; a = r["latency_ms"]; o = v["latency_ms"]
print("| %s | %s | %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) | %.2f |" % (sys.argv[1], sys.argv[2], sys.argv[3],
  a["p50"], a["min"], a["max"], o["p50"], o["min"], o["max"], r["ratio_p50"]))' "$m" "$b" "$t"
    done
  done
done
