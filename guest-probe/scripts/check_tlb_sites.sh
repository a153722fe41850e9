#!/bin/sh
# Fails if guest-probe.elf contains a MOV-to-CR3, INVLPG or INVPCID outside
# the three tlb_* stubs and the boot-time CR3 load (boot32_load_cr3).
# The VMM's hardware breakpoints cover exactly those sites.
# Also checks that the PT_LOAD segments are contiguous in the file with the
# same gaps as in memory, which the multiboot a.out kludge fields assume.
# Usage: check_tlb_sites.sh OBJDUMP ELF
set -eu
objdump=$1
elf=$2
"$objdump" -p "$elf" | awk '$1 == "LOAD" { print $3, $5 }' | {
  delta=
  while read -r off va; do
    d=$((off - va))
    if [ -n "$delta" ] && [ "$d" != "$delta" ]; then
      echo "PT_LOAD at $va: file offset $off breaks the flat image" >&2
      exit 1
    fi
    delta=$d
  done
}
"$objdump" -d --no-show-raw-insn "$elf" | awk '
  /^[0-9a-f]+ <.*>:$/ { sym = $2; gsub(/[<>:]/, "", sym); next }
  {
    # Instruction text is the second tab-separated field.
    split($0, f, "\t")
    if (f[2] !~ /^(mov[lq]? +%[a-z0-9]+,%cr3|invlpg|invpcid)/) next
    ok = (sym == "tlb_write_cr3" || sym == "tlb_invlpg" ||
          sym == "tlb_invpcid" || sym == "boot32_load_cr3")
    n++
    if (!ok) { bad++; printf "stray TLB instruction in %s: %s\n", sym, $0 }
    else printf "TLB site %s: %s\n", sym, f[2]
  }
  END {
    if (bad) exit 1
    if (n != 4) { printf "expected 4 TLB sites, found %d\n", n; exit 1 }
  }'
