// guest-probe's scenarios, one list for the guest (its table, in
// guest-probe/src/scenarios.c) and the VMM (which refuses an unknown
// --scenario before it boots anything). Plain C.
//
// X(name, id, what, has_bug_variant): `scenario=name` runs scenario_<id>;
// has_bug_variant says whether `variant=bug` (--inject-bug) exists.
#pragma once

#define TLBSCOPE_SCENARIOS(X)                                                                 \
  X("selftest", selftest, "CPUs, IPIs, CR3 switches, INVLPG, user mode (default)", 0)         \
  X("invpcid", invpcid, "INVPCID types 0-3 on every CPU, each seen from CPL3", 0)             \
  X("shootdown", shootdown, "CPL3 tasks of one mm on every CPU; TLB shootdowns, lazy TLB", 0) \
  X("lazy-free", lazy_free, "seed 000: page tables freed under a lazy CPU's CR3", 1)          \
  X("async-flush", async_flush, "seed 001: a page freed before the remote flush ran", 1)      \
  X("lam-lazy", lam_lazy, "seed 002: LAM enabled while a CPU is lazy on the mm", 1)           \
  X("nested-gather", nested_gather, "seed 003: munmap and madvise race; the nested flush", 1) \
  X("unlazy-sync", unlazy_sync, "seed 004: unlazy into a membarrier SYNC_CORE mm", 1)         \
  X("munmap-storm", munmap_storm, "mmap/munmap rounds on every CPU", 0)                       \
  X("mprotect-storm", mprotect_storm, "mprotect rounds; writes fault iff read-only", 0)       \
  X("cs-pingpong", cs_pingpong, "switches between two mms and lazy kernel threads", 0)        \
  X("many-mms", many_mms, "six mms, each CPU remapping its page in each", 0)                  \
  X("crash-pf", crash_pf, "touch an unmapped address: #PF reported, exit 3", 0)               \
  X("assert", assert, "a failing GUEST_ASSERT: ASSERT reported, exit 2", 0)                   \
  X("hang", hang, "cli and spin forever on every CPU", 0)                                     \
  X("triple-fault", triple_fault, "empty IDT, then fault: shutdown", 0)                       \
  X("bad-port", bad_port, "out to unassigned port 0x1234", 0)                                 \
  X("exit-code", exit_code, "exit with code 7", 0)                                            \
  X("hostile-ring", hostile_ring, "corrupt own event ring header (nslots, tail, head)", 0)
