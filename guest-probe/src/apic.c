#include "apic.h"

#include "cpu.h"
#include "events.h"
#include "smp.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define XAPIC_MMIO 0xfee00000ul

// x2APIC MSR numbers; the xAPIC MMIO offset is (msr - 0x800) << 4.
#define APIC_ID 0x802
#define APIC_TPR 0x808
#define APIC_EOI 0x80b
#define APIC_SVR 0x80f
#define APIC_ICR 0x830
#define APIC_LVT_TIMER 0x832
#define APIC_LVT_LINT0 0x835
#define APIC_LVT_LINT1 0x836
#define XAPIC_ICR_HIGH 0x831

#define LVT_MASKED 0x10000
#define ICR_BUSY (1u << 12)

static int use_x2apic;

static volatile uint32_t* xapic_reg(uint32_t msr) {
  return (volatile uint32_t*)(XAPIC_MMIO + ((msr - 0x800) << 4));
}

static void apic_write(uint32_t msr, uint32_t v) {
  if (use_x2apic) {
    wrmsr(msr, v);
  } else {
    *xapic_reg(msr) = v;
  }
}

static uint32_t apic_read(uint32_t msr) {
  return use_x2apic ? (uint32_t)rdmsr(msr) : *xapic_reg(msr);
}

void apic_detect(void) {
  uint32_t a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  use_x2apic = (c >> 21) & 1;
}

int apic_is_x2apic(void) { return use_x2apic; }

void apic_init_cpu(void) {
  uint64_t base = rdmsr(MSR_APIC_BASE);
  base |= APIC_BASE_ENABLE;
  if (use_x2apic) base |= APIC_BASE_X2APIC;
  wrmsr(MSR_APIC_BASE, base);
  apic_write(APIC_TPR, 0);
  // KVM resets the BSP's LINT0 to ExtINT (PIC pass-through); we want no
  // legacy interrupts at all.
  apic_write(APIC_LVT_LINT0, LVT_MASKED);
  apic_write(APIC_LVT_TIMER, LVT_MASKED);
  apic_write(APIC_SVR, 0x100 | 0xff);  // enable, spurious vector 0xff
}

uint32_t apic_id(void) {
  uint32_t id = apic_read(APIC_ID);
  return use_x2apic ? id : id >> 24;
}

void apic_eoi(void) { apic_write(APIC_EOI, 0); }

void apic_send_ipi(uint32_t dest, uint32_t icr_low) {
  // Fixed-vector IPIs are events; INIT and SIPI (other delivery modes) not.
  if ((icr_low & 0x700) == 0) {
    event_emit(TLBSCOPE_EV_IPI_SENT, 0, 1ull << apic_to_cpu[dest & 0xff], icr_low & 0xff, 0, 0);
  }
  if (use_x2apic) {
    // Not serializing in x2APIC mode: order earlier stores first.
    smp_mb();
    wrmsr(APIC_ICR, ((uint64_t)dest << 32) | icr_low);
    return;
  }
  *xapic_reg(XAPIC_ICR_HIGH) = dest << 24;
  *xapic_reg(APIC_ICR) = icr_low;
  while (*xapic_reg(APIC_ICR) & ICR_BUSY) cpu_relax();
}
