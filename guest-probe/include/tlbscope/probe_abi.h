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
  // arg[0] = guest physical address of this CPU's struct tlbscope_ring.
  // Sent once per CPU, before the CPU writes any record.
  TLBSCOPE_PROBE_RING = 9,
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

// ---- Guest event rings: the guest's own view, with no exit per event ----
//
// Each CPU owns one ring in its own memory and registers it once with
// TLBSCOPE_PROBE_RING. The CPU writes a record into slots[head % nslots],
// then advances head (a release store); the VMM copies records out and
// advances tail. While the ring is full (head - tail == nslots) the CPU
// waits: records are never dropped.
#define TLBSCOPE_RING_MAGIC 0x474e4952u  // "RING" little-endian
#define TLBSCOPE_RING_ABI_VERSION 1

enum tlbscope_ring_kind {
  TLBSCOPE_EV_IPI_SENT = 1,        // a[0] = target CPU mask (CPU indexes 0..63), a[1] = vector
  TLBSCOPE_EV_IPI_RECEIVED = 2,    // a[0] = vector
  TLBSCOPE_EV_CONTEXT_SWITCH = 3,  // a[0] = prev mm, a[1] = next mm, a[2] = CR3 written,
                                   // a[3] = ASID; flags bit 0 = need_flush
  TLBSCOPE_EV_LAZY_ENTER = 4,      // a[0] = mm
  TLBSCOPE_EV_LAZY_EXIT = 5,       // a[0] = mm; flags bit 0 = flushed
  TLBSCOPE_EV_FLUSH_REQUEST = 6,   // a[0] = mm, a[1] = start, a[2] = end, a[3] = stride shift,
                                   // a[4] = new tlb_gen, a[5] = target CPU mask;
                                   // flags bit 0 = freed_tables
  TLBSCOPE_EV_FLUSH_FUNC = 7,      // a[0] = mm, a[1] = local gen before, a[2] = after,
                                   // a[3] = mm gen, a[4] = start, a[5] = end; flags bit 0 = full
  TLBSCOPE_EV_PAGE_TABLE_FREE = 8, // a[0] = mm, a[1] = table address, a[2] = level
  TLBSCOPE_EV_STALE_READ = 9,      // a[0] = mm, a[1] = address, a[2] = expected, a[3] = observed
};

struct tlbscope_ring_record {  // 64 bytes
  uint16_t kind;   // enum tlbscope_ring_kind
  uint16_t flags;
  uint32_t reserved;
  uint64_t tsc;    // the CPU's TSC when it wrote the record
  uint64_t a[6];
};

struct tlbscope_ring {
  uint32_t magic;        // TLBSCOPE_RING_MAGIC
  uint16_t abi_version;  // TLBSCOPE_RING_ABI_VERSION
  uint16_t record_size;  // sizeof(struct tlbscope_ring_record)
  uint32_t cpu;          // the owner's CPU index (APIC id)
  uint32_t nslots;       // a power of two
  uint64_t head;         // records written: the guest's (offset 16)
  uint8_t pad0[40];
  uint64_t tail;         // records consumed: the VMM's (offset 64)
  uint8_t pad1[56];
  // struct tlbscope_ring_record slots[nslots] follows (offset 128).
};

#ifdef __cplusplus
static_assert(sizeof(tlbscope_probe_msg) == 256, "probe msg layout");
static_assert(sizeof(tlbscope_ring_record) == 64 && sizeof(tlbscope_ring) == 128, "ring layout");
#else
_Static_assert(sizeof(struct tlbscope_probe_msg) == 256, "probe msg layout");
_Static_assert(sizeof(struct tlbscope_ring_record) == 64 && sizeof(struct tlbscope_ring) == 128,
               "ring layout");
#endif
