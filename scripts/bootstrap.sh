#!/usr/bin/env bash
# Installs the Debian packages tlbscope needs (only those missing) and builds
# everything into build/. Used by scripts/main.sh and scripts/test.sh, and so
# by .ci/run: a fresh Debian 12 machine needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake make g++ gcc binutils pkg-config
  libcapstone-dev libelf-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libabsl-dev libvirt-dev libssl-dev libxml2-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format openssl
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer, ASan, UBSan
  zlib1g-dev liblzma-dev liblz4-dev libzstd-dev
  cpio
  linux-source-6.12 bc bison flex dwarves
  libdw-dev libbpf-dev
  tmux
  libcli11-dev nlohmann-json3-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
