// The guest's own view of its TLB management, for the VMM: one record per
// event into this CPU's shared-memory ring (tlbscope_ring in probe_abi.h),
// drained by the VMM without an exit per event.
#pragma once

#include <stdint.h>
#include <tlbscope/probe_abi.h>

// Registers this CPU's ring with the VMM. Each CPU, once, at bring-up.
// Without a tlbscope VMM (under QEMU) nothing is registered and
// event_emit() does nothing, so the ring can never fill up.
void events_init_cpu(void);

// Writes one record; waits while the ring is full. Any context: it holds
// interrupts off while it writes.
void event_emit(uint16_t kind, uint16_t flags, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
// Same, with all six arguments (FLUSH_REQUEST, FLUSH_FUNC).
void event_emit6(uint16_t kind, uint16_t flags, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                 uint64_t a4, uint64_t a5);
// Same, with the record's aux word (FLUSH_FUNC).
void event_emit_aux(uint16_t kind, uint16_t flags, uint32_t aux, uint64_t a0, uint64_t a1,
                    uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

// For the hostile-ring scenario: waits until the VMM drained this CPU's
// ring, stops emitting on this CPU, then rewrites the ring header as a
// hostile guest would (nslots grown past the ring, tail rewound, head
// 2^62). The VMM must refuse the ring, keep what it drained, and go on.
void events_corrupt_own_ring(void);
