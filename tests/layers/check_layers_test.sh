#!/usr/bin/env bash
# Tests scripts/check_layers.sh: the tree passes; a forbidden include, an
# unlisted vmm/ folder and a missing table each fail, naming the thing.
set -u
src=${1:?usage: check_layers_test.sh SOURCE_ROOT}
check=$src/scripts/check_layers.sh
. "$(dirname "$0")/expect.sh"

expect "the tree follows ARCHITECTURE.md" 0 "" -- "$check" "$src"

mkdir -p "$tmp/vmm/kvm" "$tmp/vmm/devices"
cp "$src/ARCHITECTURE.md" "$tmp/"
printf '#include "vmm/kvm/vm.h"\n#include "vmm/devices/serial.h"\n' >"$tmp/vmm/kvm/vm.cc"
printf '#include "vmm/kvm/vm.h"\n' >"$tmp/vmm/devices/serial.h"
expect "kvm including devices fails" 1 \
  "vmm/kvm/vm.cc:2: vmm/kvm may not include vmm/devices/serial.h" -- "$check" "$tmp"

rm "$tmp/vmm/kvm/vm.cc"
mkdir -p "$tmp/vmm/introspect"
expect "an unlisted vmm/ folder fails" 1 \
  "vmm/introspect is not in ARCHITECTURE.md's layer table" -- "$check" "$tmp"

rm "$tmp/ARCHITECTURE.md"
expect "no table is status 2" 2 "cannot read $tmp/ARCHITECTURE.md" -- "$check" "$tmp"
exit $status
