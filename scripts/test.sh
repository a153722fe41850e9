#!/usr/bin/env bash
# The whole test suite: set up, build, then unit tests (no KVM) and
# integration tests (boot guests on /dev/kvm) through CTest, then the
# default regression suite through `tlbscope regress` (JUnit XML in
# $BUILD_DIR/regress/junit.xml). Extra arguments go to ctest, and then the
# regression suite is left out (e.g. `scripts/test.sh -L unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
build="${BUILD_DIR:-build}"
status=0
ctest --test-dir "$build" --output-on-failure -j2 "$@" || status=$?
if [ $# -eq 0 ]; then
  if [ -e /dev/kvm ]; then
    "$build/vmm/tlbscope" regress suites/default.toml --jobs 2 --out "$build/regress" \
      --junit "$build/regress/junit.xml" || status=1
    # The guest-linux kernel was built by CTest's guest_linux_build_kernel fixture.
    "$build/vmm/tlbscope" regress suites/linux.toml --jobs 2 --out "$build/regress-linux" \
      --junit "$build/regress-linux/junit.xml" || status=1
    # The seed variants were built by CTest's linux_seed_variants test.
    "$build/vmm/tlbscope" regress suites/linux-seeds.toml --jobs 2 --out "$build/regress-seeds" \
      --junit "$build/regress-seeds/junit.xml" || status=1
  else
    echo "scripts/test.sh: /dev/kvm absent: the regression suites (suites/*.toml) skipped"
  fi
fi
exit "$status"
