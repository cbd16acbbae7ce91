#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages dwhatsapp needs to build and test.
# Idempotent: when every package is already installed it does nothing (and
# needs neither root nor the network).
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++ libasio-dev libcpp-httplib-dev rapidjson-dev
  liblmdb-dev libfmt-dev doctest-dev libsodium-dev libssl-dev libcli11-dev
  python3 iproute2 ccache
  clang libclang-rt-14-dev
  golang-go
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: missing packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: not root and no sudo: install them by hand:" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
