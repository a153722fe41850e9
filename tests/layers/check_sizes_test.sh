#!/usr/bin/env bash
# Tests scripts/check_sizes.py on made-up trees: a function (or a member
# function in a class body) of 81 lines and a file of 401 lines each fail,
# naming the place; 80 and 400 pass; an untracked file (build output,
# generated code) is not read.
set -u
src=${1:?usage: check_sizes_test.sh SOURCE_ROOT}
check=$src/scripts/check_sizes.py
. "$(dirname "$0")/expect.sh"
sizes() { expect "$1" "$2" "$3" -- "${PYTHON:-python3}" "$check" "$tmp"; }
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
sizes "an 80-line function passes" 0 ""

function_of Long 79 >"$tmp/b.cc"
track b.cc
sizes "an 81-line function fails" 1 "b.cc:1: int Long(int x) { is 81 lines (at most 80)"

rm "$tmp/b.cc"
git -C "$tmp" rm -qf --cached b.cc
{ printf 'class K {\n public:\n  int M(int x) {\n'
  for ((i = 0; i < 79; ++i)); do printf '    x += %d;\n' "$i"; done
  printf '  }\n};\n'; } >"$tmp/k.h"
track k.h
sizes "an 81-line member function fails" 1 "k.h:3: int M(int x) { is 81 lines (at most 80)"
rm "$tmp/k.h"
git -C "$tmp" rm -qf --cached k.h
{ printf 'namespace x {\n'; for ((i = 0; i < 398; ++i)); do printf 'int v%d = 0;\n' "$i"; done
  printf '}\n'; } >"$tmp/c.h"
track c.h
sizes "a 400-line file passes" 0 ""
printf '// one more\n' >>"$tmp/c.h"
sizes "a 401-line file fails" 1 "c.h: 401 lines (at most 400)"

git -C "$tmp" rm -qf --cached c.h
function_of Generated 200 >"$tmp/gen.pb.cc"
sizes "an untracked (generated) file is not read" 0 ""
exit $status
