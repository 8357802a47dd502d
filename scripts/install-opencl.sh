#!/bin/sh
# install-opencl.sh installs what the opencl build tag needs on Debian or
# Ubuntu: the Khronos headers, the ICD loader libOpenCL.so.1, the PoCL CPU
# driver (so tests have a platform without a GPU) and clinfo. It is
# idempotent and quiet; it runs apt-get update only if the install fails.
set -eu

PKGS="pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq $missing >/dev/null; then
	$SUDO apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq $missing >/dev/null
fi
