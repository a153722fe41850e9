#!/usr/bin/env bash
# Checks every project include against the layer table in ARCHITECTURE.md
# (the lines between "layers:begin" and "layers:end"): a file in folder F
# may include "G/..." only if G is F or listed after "F:". Every folder
# under vmm/ must be in the table. Prints one line per forbidden include and
# exits 1; exit 2 on a bad table. Usage: check_layers.sh [SOURCE_ROOT]
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
doc=$root/ARCHITECTURE.md
if [ ! -r "$doc" ]; then
  echo "check_layers: cannot read $doc" >&2
  exit 2
fi
declare -A allowed
table=$(sed -n '/layers:begin/,/layers:end/p' "$doc" | grep -E '^[a-z/_]+:')
if [ -z "$table" ]; then
  echo "check_layers: no layer table (layers:begin ... layers:end) in $doc" >&2
  exit 2
fi
while IFS= read -r line; do
  folder=${line%%:*}
  allowed[$folder]=" ${line#*:} "
done <<<"$table"

fail=0
for dir in "$root"/vmm/*/; do
  f=vmm/$(basename "$dir")
  if [ -z "${allowed[$f]+x}" ]; then
    echo "check_layers: $f is not in ARCHITECTURE.md's layer table (add it with its allowed layers)"
    fail=1
  fi
done
# The layer a project include names: the longest table folder it starts
# with (sets `target`; "" for libraries: absl, protos, the guest ABI).
layer_of() {
  local f
  target=""
  for f in "${!allowed[@]}"; do
    if [[ $1 == "$f"/* && ${#f} -gt ${#target} ]]; then target=$f; fi
  done
}
re='^([^:]+):([0-9]+):#include "([^"]+)"'
for folder in "${!allowed[@]}"; do
  [ -d "$root/$folder" ] || continue
  while IFS= read -r hit; do
    [[ $hit =~ $re ]] || continue
    file=${BASH_REMATCH[1]} lineno=${BASH_REMATCH[2]} inc=${BASH_REMATCH[3]}
    layer_of "$inc"
    [ -z "$target" ] || [ "$target" = "$folder" ] && continue
    if [[ ${allowed[$folder]} != *" $target "* ]]; then
      echo "${file#"$root"/}:$lineno: $folder may not include $inc ($folder -> $target is not an edge in ARCHITECTURE.md)"
      fail=1
    fi
  done < <(grep -HnE '^#include "' "$root/$folder"/*.cc "$root/$folder"/*.h 2>/dev/null)
done
exit $fail
