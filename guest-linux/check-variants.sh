#!/usr/bin/env bash
# Builds the stock test kernel and every seed-bug variant (cached, so seconds
# when nothing changed) and checks what each patch did to the kernel's text:
# a variant whose code is compiled in must differ from the stock .text, and
# one whose code is configured out (LISTED below) must not.
#
#   guest-linux/check-variants.sh
# Prints one line per variant; any failure is one line and status 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# Variants whose patched code is not in this config (none since the test
# kernel has CONFIG_ADDRESS_MASKING for seed 002).
CONFIGURED_OUT=" "
fail() {
  echo "check-variants: error: $*" >&2
  exit 1
}
command -v objcopy >/dev/null || fail "objcopy not found (binutils)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text() { # KERNEL_DIR -> checksum of vmlinux's .text
  objcopy -O binary --only-section=.text "$1/vmlinux" "$work/text" ||
    fail "cannot read .text of $1/vmlinux"
  sha256sum <"$work/text" | cut -c1-16
}
stock=$("$HERE/build-kernel.sh") || fail "the stock kernel did not build"
stock_text=$(text "$stock")
n=0
for dir in "$HERE"/patches/variants/*/; do
  v=$(basename "$dir")
  k=$(TLBSCOPE_LINUX_VARIANT=$v "$HERE/build-kernel.sh") || fail "variant $v did not build"
  t=$(text "$k")
  if [[ "$CONFIGURED_OUT" == *" $v "* ]]; then
    [ "$t" = "$stock_text" ] || fail "variant $v: .text differs from stock, but its code should be configured out"
    echo "check-variants: $v builds; its code is configured out here (.text identical to stock)"
  else
    [ "$t" != "$stock_text" ] || fail "variant $v: .text identical to stock: the patch changed nothing"
    echo "check-variants: $v builds; .text differs from stock"
  fi
  n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no variants under $HERE/patches/variants"
echo "check-variants: $n variants checked"
