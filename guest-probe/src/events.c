#include "events.h"

#include "cpu.h"
#include "probe.h"
#include "smp.h"

#define RING_SLOTS 256  // a power of two; 16 KiB per CPU

struct cpu_ring {
  struct tlbscope_ring hdr;
  struct tlbscope_ring_record slots[RING_SLOTS];
} __attribute__((aligned(64)));

static struct cpu_ring rings[MAX_CPUS];
static volatile uint8_t registered[MAX_CPUS];

void events_init_cpu(void) {
  if (!probe_present()) return;
  int cpu = this_cpu();
  struct cpu_ring* r = &rings[cpu];
  r->hdr.magic = TLBSCOPE_RING_MAGIC;
  r->hdr.abi_version = TLBSCOPE_RING_ABI_VERSION;
  r->hdr.record_size = sizeof(struct tlbscope_ring_record);
  r->hdr.cpu = percpus[cpu].apic_id;
  r->hdr.nslots = RING_SLOTS;
  // Identity mapped: the address is the guest physical address.
  probe_ring((uint64_t)(uintptr_t)r);
  registered[cpu] = 1;
}

void event_emit(uint16_t kind, uint16_t flags, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  event_emit_aux(kind, flags, 0, a0, a1, a2, a3, 0, 0);
}

void event_emit6(uint16_t kind, uint16_t flags, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                 uint64_t a4, uint64_t a5) {
  event_emit_aux(kind, flags, 0, a0, a1, a2, a3, a4, a5);
}

void event_emit_aux(uint16_t kind, uint16_t flags, uint32_t aux, uint64_t a0, uint64_t a1,
                    uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  int cpu = this_cpu();
  if (!registered[cpu]) return;
  struct cpu_ring* r = &rings[cpu];
  // An interrupt handler on this CPU emits too: keep it out of the slot.
  uint64_t flags_saved = irq_save();
  uint64_t head = r->hdr.head;
  while (head - __atomic_load_n(&r->hdr.tail, __ATOMIC_ACQUIRE) >= RING_SLOTS) cpu_relax();
  __atomic_store_n(&r->hdr.writing_tsc, rdtsc(), __ATOMIC_SEQ_CST);
  smp_mb();  // visible before the stamp below is taken
  struct tlbscope_ring_record* rec = &r->slots[head & (RING_SLOTS - 1)];
  rec->kind = kind;
  rec->flags = flags;
  rec->aux = aux;
  rec->tsc = rdtsc();
  rec->a[0] = a0;
  rec->a[1] = a1;
  rec->a[2] = a2;
  rec->a[3] = a3;
  rec->a[4] = a4;
  rec->a[5] = a5;
  __atomic_store_n(&r->hdr.head, head + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&r->hdr.writing_tsc, 0, __ATOMIC_RELEASE);
  restore_flags(flags_saved);
}

void events_corrupt_own_ring(void) {
  int cpu = this_cpu();
  if (!registered[cpu]) return;
  struct cpu_ring* r = &rings[cpu];
  // Wait until the VMM consumed everything, so the records so far are in
  // the trace, then stop emitting on this CPU and lie in the header.
  while (__atomic_load_n(&r->hdr.tail, __ATOMIC_ACQUIRE) != r->hdr.head) cpu_relax();
  registered[cpu] = 0;
  r->hdr.nslots = 1u << 30;                                     // far past the ring
  __atomic_store_n(&r->hdr.tail, 0, __ATOMIC_RELEASE);          // rewinds the VMM's index
  __atomic_store_n(&r->hdr.head, 1ul << 62, __ATOMIC_RELEASE);  // floods head
}
