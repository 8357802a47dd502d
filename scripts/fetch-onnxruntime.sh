#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library for linux x64 from the npm
# package onnxruntime-node (npm pack, never npm install: its install
# script downloads GPU libraries), checks its sha256, and prints its path.
# For production use, install an official ONNX Runtime release instead and
# point ACCEL_ORT_LIB at it.
set -euo pipefail
VERSION=1.30.0
SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
cache="${ACCEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/accel}/onnxruntime/$VERSION"
lib="$cache/libonnxruntime.so.1"
check() { [ -f "$lib" ] && echo "$SHA256  $lib" | sha256sum --check --status; }
if ! check; then
  command -v npm >/dev/null || { echo "fetch-onnxruntime: npm is needed" >&2; exit 1; }
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$VERSION" >/dev/null)
  tar -xzf "$tmp/onnxruntime-node-$VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$cache"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib"
  check || { echo "fetch-onnxruntime: sha256 mismatch for $lib" >&2; rm -f "$lib"; exit 1; }
fi
echo "$lib"
