// The kernel's ONLY TLB-affecting instructions (apart from the boot-time
// CR3 load at boot32_load_cr3). The VMM puts hardware breakpoints on these
// global symbols, so keep each one a single instruction plus ret and never
// inline them. scripts/check_tlb_sites.sh enforces this at build time.
  .text
  .code64

  // void tlb_write_cr3(uint64_t cr3)
  .balign 16
  .global tlb_write_cr3
  .type tlb_write_cr3, @function
tlb_write_cr3:
  movq %rdi, %cr3
  ret
  .size tlb_write_cr3, . - tlb_write_cr3

  // void tlb_invlpg(uint64_t va)
  .balign 16
  .global tlb_invlpg
  .type tlb_invlpg, @function
tlb_invlpg:
  invlpg (%rdi)
  ret
  .size tlb_invlpg, . - tlb_invlpg

  // void tlb_invpcid(uint64_t type, const struct invpcid_desc *desc)
  // Not executed by selftest: the development host has no INVPCID (it
  // becomes an emulation failure). Present so scenarios on other hosts and
  // the VMM's emulation-failure path have a fixed site.
  .balign 16
  .global tlb_invpcid
  .type tlb_invpcid, @function
tlb_invpcid:
  invpcid (%rsi), %rdi
  ret
  .size tlb_invpcid, . - tlb_invpcid
