#!/usr/bin/env bash
# guest-linux/build-kernel.sh on bad input: a missing tarball, a corrupt one,
# a patch that does not apply, a kernel build error, an unknown variant. Each
# must end with status 1 and exactly one error line, "build-kernel: error: ...",
# the last on stderr (progress lines such as "unpacking" may come before it).
# Uses small made-up source tarballs, so it takes seconds.
#   build_kernel_bad_input.sh SOURCE_DIR
set -uo pipefail
SRC=${1:?usage: build_kernel_bad_input.sh SOURCE_DIR}
SCRIPT=$SRC/guest-linux/build-kernel.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

# expect NAME WANT_SUBSTRING [ENV=VALUE...]
expect() {
  local name=$1 want=$2
  shift 2
  local status=0
  env TLBSCOPE_LINUX_CACHE="$T/cache-$name" "$@" "$SCRIPT" >"$T/out" 2>"$T/err" || status=$?
  local lines
  lines=$(grep -c "^build-kernel: error:" "$T/err")
  if [ "$status" -ne 1 ] || [ "$lines" -ne 1 ] ||
    ! tail -n1 "$T/err" | grep -q "^build-kernel: error: .*$want" || [ -s "$T/out" ]; then
    echo "FAIL $name: status $status, $lines error lines (want 1, last, with '$want'):"
    sed 's/^/  | /' "$T/err"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(tail -n1 "$T/err")"
  fi
}

# A made-up kernel tree: the Makefile's bzImage fails like a compile error.
mkdir -p "$T/tree/linux-fake/arch/x86/mm"
printf 'not the fault.c the patch expects\n' >"$T/tree/linux-fake/arch/x86/mm/fault.c"
printf 'tinyconfig:\n\t@touch $(O)/.config\nolddefconfig:\n\t@true\nbzImage:\n\t@echo "init/main.c:1:1: error: expected declaration" >&2; exit 2\n' \
  >"$T/tree/linux-fake/Makefile"
tar -C "$T/tree" -cJf "$T/fake.tar.xz" linux-fake
head -c 4096 /dev/urandom >"$T/corrupt.tar.xz"
head -c 300 "$T/fake.tar.xz" >"$T/truncated.tar.xz"

expect missing-tarball "not found" TLBSCOPE_LINUX_SOURCE="$T/none.tar.xz"
expect corrupt-tarball "cannot unpack" TLBSCOPE_LINUX_SOURCE="$T/corrupt.tar.xz"
expect truncated-tarball "cannot unpack" TLBSCOPE_LINUX_SOURCE="$T/truncated.tar.xz"
expect failed-patch "patch .*0001-x86-mm-syscall-at-cpl3-fixup.patch does not apply" \
  TLBSCOPE_LINUX_SOURCE="$T/fake.tar.xz" TLBSCOPE_LINUX_HOST=kvm_pvm
expect build-error "kernel build failed: init/main.c:1:1: error: expected declaration" \
  TLBSCOPE_LINUX_SOURCE="$T/fake.tar.xz" TLBSCOPE_LINUX_HOST=plain
expect unknown-variant "variant no-such-seed" TLBSCOPE_LINUX_SOURCE="$T/fake.tar.xz" \
  TLBSCOPE_LINUX_VARIANT=no-such-seed
expect bad-host "TLBSCOPE_LINUX_HOST=vmx" TLBSCOPE_LINUX_SOURCE="$T/fake.tar.xz" \
  TLBSCOPE_LINUX_HOST=vmx
exit $((failures > 0))
