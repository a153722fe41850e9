// The ABI between guest-probe (or any guest) and the tlbscope VMM.
//
// Shared by the freestanding guest (C) and the VMM (C++): plain C, fixed-size
// types, no padding surprises (static_asserts below pin the layout).
#pragma once

#include <stdint.h>

// Port map (all port I/O; the in-kernel irqchip and PIT own 0x20/0x21,
// 0x40-0x43 and 0xa0/0xa1).
#define TLBSCOPE_COM1_PORT 0x3f8  // 16550 UART, 8 registers.
#define TLBSCOPE_PROBE_PORT 0xf0  // outl(GPA of a tlbscope_probe_msg).
#define TLBSCOPE_EXIT_PORT 0xf4   // isa-debug-exit: out(code) ends the VM.
#define TLBSCOPE_POST_PORT 0x80   // POST / io_delay: accepted, ignored.
#define TLBSCOPE_MARK_PORT 0xf8   // outb(mark): a GuestMark event in this vCPU's order.

// Bytes for TLBSCOPE_MARK_PORT (GuestMark.Mark in trace.proto).
enum tlbscope_guest_mark {
  TLBSCOPE_MARK_COUNTERS_READ_BEGIN = 1,  // about to read the kernel's TLB counters
  TLBSCOPE_MARK_COUNTERS_READ_END = 2,    // read them
};

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
// then advances head (a release store), bracketed by writing_tsc; the VMM
// copies records out and
// advances tail. While the ring is full (head - tail == nslots) the CPU
// waits: records are never dropped.
#define TLBSCOPE_RING_MAGIC 0x474e4952u  // "RING" little-endian
#define TLBSCOPE_RING_ABI_VERSION 2

// Records are the guest's own account of its TLB management, modelled on
// Linux's arch/x86/mm/tlb.c and mm/mmu_gather.c. "mm" is always the mm's
// ctx_id (never reused; init_mm is 1); generations are mm->context.tlb_gen
// values; a CPU mask holds CPU indexes 0..63. docs/events.md is the
// contract collectors read (what each field means, in which order the
// records of one operation come).
enum tlbscope_ring_kind {
  TLBSCOPE_EV_IPI_SENT = 1,      // a[0] = target CPU mask, a[1] = vector
  TLBSCOPE_EV_IPI_RECEIVED = 2,  // a[0] = vector
  // switch_mm_irqs_off(), and every other CR3 write, just before it:
  // a[0] = prev mm, a[1] = next mm, a[2] = CR3 to be written (0 = none),
  // a[3] = ASID, a[4] = the CPU's LAM CR3 bits after the switch,
  // a[5] = next mm's LAM CR3 bits as the switch read them.
  // flags: TLBSCOPE_CS_* below.
  TLBSCOPE_EV_CONTEXT_SWITCH = 3,
  TLBSCOPE_EV_LAZY_ENTER = 4,       // a[0] = mm
  TLBSCOPE_EV_LAZY_EXIT = 5,        // a[0] = mm; flags bit 0 = flushed (CR3 written)
  TLBSCOPE_EV_FLUSH_REQUEST = 6,    // a[0] = mm, a[1] = start, a[2] = end, a[3] = stride shift,
                                    // a[4] = new tlb_gen, a[5] = CPUs asked to run
                                    // flush_tlb_func (the initiator included when it has
                                    // the mm loaded); flags bit 0 = freed_tables
  TLBSCOPE_EV_FLUSH_FUNC = 7,       // after the flush: a[0] = mm, a[1] = local gen before,
                                    // a[2] = after, a[3] = mm gen, a[4] = start, a[5] = end;
                                    // flags: TLBSCOPE_FF_* below; aux = the new_tlb_gen
                                    // of the request it serves (low 32 bits; 0: unknown)
  TLBSCOPE_EV_PAGE_TABLE_FREE = 8,  // a[0] = mm, a[1] = table's physical address,
                                    // a[2] = level (1 = PT, 2 = PD, 3 = PDPT),
                                    // a[3] = tlb_gen of the flush that covered its unlink
  TLBSCOPE_EV_STALE_READ = 9,       // a[0] = mm, a[1] = address, a[2] = expected, a[3] = observed
  // flush_tlb_mm_range() returns: a[0] = mm, a[1] = the request's new
  // tlb_gen, a[2] = CPUs whose flush_tlb_func the initiator saw finish.
  TLBSCOPE_EV_FLUSH_DONE = 10,
  // A user page leaves the mm for good (freed to the allocator):
  // a[0] = mm, a[1] = user virtual address, a[2] = physical page,
  // a[3] = tlb_gen of the flush that covered its unmap.
  TLBSCOPE_EV_PAGE_FREE = 11,
  // tlb_gather_mmu(): a[0] = mm, a[1] = start, a[2] = end,
  // a[3] = mm's tlb_flush_pending after the increment.
  TLBSCOPE_EV_GATHER_START = 12,
  // tlb_finish_mmu(), after its flush: a[0] = mm, a[1] = flushed start,
  // a[2] = flushed end, a[3] = tlb_gen of that flush (0 = none), a[4] =
  // levels the flush covered (TLBSCOPE_LEVEL_*), a[5] = mm's
  // tlb_flush_pending seen at the nested check; flags: TLBSCOPE_GE_*.
  TLBSCOPE_EV_GATHER_END = 13,
  // An mm's LAM changes (prctl ARCH_ENABLE_TAGGED_ADDR): a[0] = mm,
  // a[1] = its new LAM CR3 bits (1 << 61 = LAM_U57, 1 << 62 = LAM_U48),
  // a[2] = untag mask.
  TLBSCOPE_EV_LAM_SET = 14,
  // membarrier(REGISTER_PRIVATE_EXPEDITED_SYNC_CORE): a[0] = mm.
  TLBSCOPE_EV_MEMBARRIER_REGISTER = 15,
  // An explicit serializing instruction (sync_core()): a[0] = mm about to
  // run in user mode, a[1] = why (1 = unlazy into a SYNC_CORE mm).
  TLBSCOPE_EV_SYNC_CORE = 16,
  // Return to user mode: a[0] = mm, a[1] = the CPU's local gen,
  // a[2] = mm tlb_gen, a[3] = the CPU's LAM CR3 bits.
  TLBSCOPE_EV_USER_ENTER = 17,
  // Entry from user mode: a[0] = mm, a[1] = vector (0x80 = syscall).
  TLBSCOPE_EV_USER_EXIT = 18,
  // A CPU sets or clears its bit in an mm's cpumask: a[0] = mm,
  // a[1] = the mask after, a[2] = CPU; flags bit 0 = set (0 = cleared).
  TLBSCOPE_EV_CPUMASK = 19,
};

// CONTEXT_SWITCH flags.
#define TLBSCOPE_CS_NEED_FLUSH 0x1  // the CR3 write flushes (no-PCID: always when written)
#define TLBSCOPE_CS_WAS_LAZY 0x2    // the CPU was lazy (a switch back to the same mm)
#define TLBSCOPE_CS_RELOAD 0x4      // same mm, CR3 reloaded to flush (flush_tlb_func)
#define TLBSCOPE_CS_RAW 0x8         // a CR3 write outside the mm model (boot, raw spaces)
// FLUSH_FUNC flags.
#define TLBSCOPE_FF_FULL 0x1        // a CR3 reload, not INVLPGs
#define TLBSCOPE_FF_LAZY_LEFT 0x2   // the CPU was lazy: it switched to init_mm instead
#define TLBSCOPE_FF_NOT_LOADED 0x4  // the CPU no longer runs the mm: it left the cpumask
// GATHER_END flags.
#define TLBSCOPE_GE_NESTED 0x1        // another gather of the mm was in flight
#define TLBSCOPE_GE_FREED_TABLES 0x2  // the flush had freed_tables
#define TLBSCOPE_GE_OWN_FREED 0x4     // this gather itself freed page tables
// Levels, for GATHER_END a[4] (mmu_gather's cleared_* bits).
#define TLBSCOPE_LEVEL_PTE 0x1
#define TLBSCOPE_LEVEL_PMD 0x2
#define TLBSCOPE_LEVEL_PUD 0x4
#define TLBSCOPE_LEVEL_P4D 0x8

struct tlbscope_ring_record {  // 64 bytes
  uint16_t kind;               // enum tlbscope_ring_kind
  uint16_t flags;
  uint32_t aux;  // kind-specific (FLUSH_FUNC: the request it serves), else 0
  uint64_t tsc;  // the CPU's TSC when it wrote the record
  uint64_t a[6];
};

struct tlbscope_ring {
  uint32_t magic;        // TLBSCOPE_RING_MAGIC
  uint16_t abi_version;  // TLBSCOPE_RING_ABI_VERSION
  uint16_t record_size;  // sizeof(struct tlbscope_ring_record)
  uint32_t cpu;          // the owner's CPU index (APIC id)
  uint32_t nslots;       // a power of two
  uint64_t head;         // records written: the guest's (offset 16)
  // The CPU's TSC when it began writing the record at head (before
  // stamping it), 0 when it is not writing one (offset 24). The VMM
  // releases no event newer than this, so a record stamped but not yet
  // published is never overtaken, however long the vCPU stalls.
  uint64_t writing_tsc;
  uint8_t pad0[32];
  uint64_t tail;  // records consumed: the VMM's (offset 64)
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
