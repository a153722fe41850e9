#!/usr/bin/env bash
# The binary that runs guests as root links none of regress's libraries
# (libvirt, libxml2, toml++: they are tlbscope-regress's; ARCHITECTURE.md).
# Prints each one found and exits 1; exit 2 if ldd cannot read BINARY.
# Usage: check_root_binary.sh BINARY  (CTest RootBinaryLinksNoRegressLibraries)
set -uo pipefail
if ! libs=$(ldd "${1:?usage: check_root_binary.sh BINARY}"); then
  echo "check_root_binary: ldd $1 failed" >&2
  exit 2
fi
found=$(printf '%s\n' "$libs" | awk '/libvirt|libxml2|tomlplusplus/ {print $1}')
if [ -n "$found" ]; then
  echo "$1 links regress's libraries:" $found
  exit 1
fi
exit 0
