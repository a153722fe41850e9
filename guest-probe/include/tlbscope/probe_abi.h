// The ABI between guest-probe (or any guest) and the tlbscope VMM.
//
// Shared by the freestanding guest (C) and the VMM (C++): plain C, fixed-size
// types, no padding surprises (static_asserts below pin the layout).
#pragma once

#include <stdint.h>

// Port map (all port I/O; the in-kernel irqchip and PIT own 0x20/0x21,
// 0x40-0x43 and 0xa0/0xa1).
#define TLBSCOPE_COM1_PORT 0x3f8   // 16550 UART, 8 registers.
#define TLBSCOPE_PROBE_PORT 0xf0   // outl(GPA of a tlbscope_probe_msg).
#define TLBSCOPE_EXIT_PORT 0xf4    // isa-debug-exit: out(code) ends the VM.
#define TLBSCOPE_POST_PORT 0x80    // POST / io_delay: accepted, ignored.

#define TLBSCOPE_PROBE_MAGIC 0x504c4254u  // "TBLP" little-endian.
#define TLBSCOPE_PROBE_ABI_VERSION 1

// Kinds of probe message. Fatal kinds stop the VM.
enum tlbscope_probe_kind {
  TLBSCOPE_PROBE_HELLO = 1,       // name = guest name; arg[0] = number of CPUs it found.
  TLBSCOPE_PROBE_RESULT = 2,      // name = check; arg[0] = 1 pass, 0 fail; text = detail.
  TLBSCOPE_PROBE_ASSERT = 3,      // fatal. file, line, text = failed expression.
  TLBSCOPE_PROBE_EXCEPTION = 4,   // fatal. arg = {vector, rip, error code, cr2}.
  TLBSCOPE_PROBE_LOG = 5,         // text = one line of guest log.
  TLBSCOPE_PROBE_CPU_ONLINE = 6,  // arg[0] = APIC id of the CPU that came up.
  TLBSCOPE_PROBE_DONE = 7,        // arg[0] = checks passed, arg[1] = checks failed.
  // One per online CPU, sent by that CPU (cpu = its APIC id) after the
  // scenario's last check and before DONE: how often it called each TLB
  // stub since boot (tlb_write_cr3, tlb_invlpg, tlb_invpcid; the boot-time
  // CR3 load is not counted). arg[0] = CR3 writes, arg[1] = INVLPGs,
  // arg[2] = INVPCIDs. The CPU makes no TLB stub call after sending it.
  TLBSCOPE_PROBE_TLB_COUNTS = 8,
};

// One message. The guest fills it in its own memory and writes its guest
// physical address (below 4 GiB) to TLBSCOPE_PROBE_PORT with a 32-bit OUT.
// The VMM reads it during that exit, so the guest may reuse it afterwards.
struct tlbscope_probe_msg {
  uint32_t magic;        // TLBSCOPE_PROBE_MAGIC
  uint16_t abi_version;  // TLBSCOPE_PROBE_ABI_VERSION
  uint16_t kind;         // enum tlbscope_probe_kind
  uint32_t cpu;          // sender's CPU index (APIC id)
  uint32_t line;         // ASSERT: source line
  uint64_t arg[4];
  char file[48];  // NUL-terminated (the VMM also bounds it)
  char name[48];
  char text[112];
};

#ifdef __cplusplus
static_assert(sizeof(tlbscope_probe_msg) == 256, "probe msg layout");
#else
_Static_assert(sizeof(struct tlbscope_probe_msg) == 256, "probe msg layout");
#endif
