# Sourced by the tests of the tree checks (check_*_test.sh): a scratch
# directory $tmp (removed at exit), the test's $status, and
#   expect NAME WANT_RC WANT_LINE -- COMMAND...
# which runs COMMAND and prints "ok NAME" or why not.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
expect() {
  local name=$1 want_rc=$2 want=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: rc $rc (want $want_rc), output: $out (want a line with: $want)"
    status=1
  else
    echo "ok   $name"
  fi
}
