#!/usr/bin/env bash
# Installs the Debian packages Valkyria needs to build, test and benchmark.
# Only packages that are missing are installed, so a second run is quick.
set -euo pipefail

BUILD_PKGS=(g++ cmake make pkg-config libgc-dev libedit-dev libgtest-dev googletest nlohmann-json3-dev libuv1-dev
            libnghttp2-dev libssl-dev openssl libcurl4-openssl-dev libpcre2-dev)
TEST_PKGS=(clang-14 libclang-rt-14-dev time prometheus curl nghttp2-client nghttp2-server python3 tmux)
BENCH_PKGS=(lua5.4 guile-3.0 hyperfine nodejs nghttp2-server nghttp2-client)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
case "${1:-}" in
  --bench) want+=("${BENCH_PKGS[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
