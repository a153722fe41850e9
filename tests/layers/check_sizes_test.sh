#!/usr/bin/env bash
# Tests scripts/check_sizes.py on made-up trees: a function of 81 lines and
# a file of 401 lines each fail, naming the place; 80 and 400 pass; an
# untracked file (build output, generated code) is not read.
set -u
src=${1:?usage: check_sizes_test.sh SOURCE_ROOT}
check=$src/scripts/check_sizes.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
expect() {  # expect NAME WANT_RC WANT_LINE
  local name=$1 want_rc=$2 want=$3 out rc
  out=$("${PYTHON:-python3}" "$check" "$tmp" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: rc $rc (want $want_rc), output: $out (want a line with: $want)"
    status=1
  else
    echo "ok   $name"
  fi
}
# function NAME BODY_LINES: a Google-style definition of 2 + BODY_LINES lines.
function_of() {
  printf 'int %s(int x) {\n' "$1"
  for ((i = 0; i < $2; ++i)); do printf '  x += %d;\n' "$i"; done
  printf '}\n'
}
git -C "$tmp" init -q
track() { git -C "$tmp" add "$@"; }

function_of Short 78 >"$tmp/a.cc"
track a.cc
expect "an 80-line function passes" 0 ""

function_of Long 79 >"$tmp/b.cc"
track b.cc
expect "an 81-line function fails" 1 "b.cc:1: int Long(int x) { is 81 lines (at most 80)"

rm "$tmp/b.cc"
git -C "$tmp" rm -qf --cached b.cc
{ printf 'namespace x {\n'; for ((i = 0; i < 398; ++i)); do printf 'int v%d = 0;\n' "$i"; done
  printf '}\n'; } >"$tmp/c.h"
track c.h
expect "a 400-line file passes" 0 ""
printf '// one more\n' >>"$tmp/c.h"
expect "a 401-line file fails" 1 "c.h: 401 lines (at most 400)"

git -C "$tmp" rm -qf --cached c.h
function_of Generated 200 >"$tmp/gen.pb.cc"
expect "an untracked (generated) file is not read" 0 ""
exit $status
