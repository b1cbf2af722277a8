#!/bin/sh
# deps.sh - install what aecc needs from Debian 12's packages, if missing.
# Run as root (or with sudo available). Safe to run again: it only installs
# packages that are not installed yet.
set -eu

PKGS="make gcc g++ clang flex bison libc6-dev zlib1g-dev libsimde-dev libcriterion-dev pkg-config
      dataset-fashion-mnist python3 python3-numpy python3-torch libopenblas0-pthread
      libpng-dev python3-matplotlib libopenmpi-dev openmpi-bin
      llvm-14-dev libclang-14-dev libclang-cpp14-dev libomp-14-dev libclang-rt-14-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user binutils"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "deps.sh: run as root to install:$missing" >&2; exit 1; }
	SUDO=sudo
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
