#!/usr/bin/env bash
# clang-format every tracked C/C++ source with the repository's
# .clang-format. --check: change nothing, list the files that differ and
# exit 1 if any (CTest `Formatting`, label unit).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fix
[ "${1:-}" = "--check" ] && mode=check
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' '*.cpp' | grep -v '^guest-linux/')
if [ "$mode" = fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format for all files: it names each file that differs.
out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1 >/dev/null || true)
bad=$(printf '%s\n' "$out" | grep -oE '^[^:]+:[0-9]+:[0-9]+: (error|warning)' | cut -d: -f1 | sort -u || true)
[ -z "$bad" ] && exit 0
printf 'not clang-formatted: %s (scripts/format.sh fixes it)\n' $bad
exit 1
