// Interrupt-safe spinlock. The owner is recorded so that a fatal path on
// the CPU that already holds the console lock can still print.
#pragma once

#include <stdint.h>

#include "cpu.h"

struct spinlock {
  volatile uint32_t locked;
  volatile int32_t owner;  // CPU index, -1 when free
};

#define SPINLOCK_INIT \
  { 0, -1 }

static inline uint64_t spin_lock_irqsave(struct spinlock* l, int cpu) {
  uint64_t flags = irq_save();
  while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
    while (READ_ONCE(l->locked)) cpu_relax();
  }
  l->owner = cpu;
  return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock* l, uint64_t flags) {
  l->owner = -1;
  __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
  restore_flags(flags);
}
