// The three TLB stubs (tlb_stubs.S). Every TLB-affecting instruction the
// kernel executes after boot goes through one of these, so the VMM can
// catch them all with hardware breakpoints on the symbols.
#pragma once

#include <stdint.h>

void tlb_write_cr3(uint64_t cr3);
void tlb_invlpg(uint64_t va);

struct invpcid_desc {
  uint64_t pcid;
  uint64_t addr;
};
// Not used by selftest: this development host has no INVPCID.
void tlb_invpcid(uint64_t type, const struct invpcid_desc* desc);
