#!/usr/bin/env bash
# The main job: set up, build, and boot the bundled guest-probe on 4 vCPUs
# under tlbscope; it prints the selftest results and exits with the guest's
# code (0 when every check passed). Extra arguments go to `tlbscope run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec "${BUILD_DIR:-build}/vmm/tlbscope" run --smp 4 "$@"
