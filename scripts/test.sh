#!/usr/bin/env bash
# The whole test suite: set up, build, then unit tests (no KVM) and
# integration tests (boot guests on /dev/kvm) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j2 "$@"
