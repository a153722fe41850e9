// The flushes Linux counts in /proc/vmstat outside flush_tlb_func
// (CONFIG_DEBUG_TLBFLUSH): each function below increments one nr_tlb_*
// counter at its entry, once per call. A probe on each emits a
// kernel_flush event there, so tlbscope's counts can equal the kernel's
// (collectors/kernel_tally.h). None changes an mm's generation. Early in
// boot (ACPI tables through early_memremap) the count goes to the boot
// per-CPU area, which Linux later copies to every CPU: boot_percpu says so.
//   flush_tlb_one_kernel(addr)   nr_tlb_local_flush_one       ONE_KERNEL_PAGE
//   flush_tlb_all()              nr_tlb_remote_flush          ALL_REQUESTED
//   do_flush_tlb_all() per CPU   nr_tlb_remote_flush_received ALL_RECEIVED
//   cache_disable/cache_enable   nr_tlb_local_flush_all       CACHE_CONTROL
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class KernelFlushProbe : public Probe {
 public:
  KernelFlushProbe(const char* function, v1::KernelFlush::What what, bool optional)
      : function_(function), what_(what), optional_(optional) {}
  const char* function() const override { return function_; }
  // cache_disable()/cache_enable() are 6.2's (MTRR code before).
  bool optional() const override { return optional_; }

  void OnEntry(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs& r) override {
    v1::Event e;
    v1::KernelFlush* f = e.mutable_kernel_flush();
    f->set_what(what_);
    if (what_ == v1::KernelFlush::ONE_KERNEL_PAGE) f->set_address(r.arg[0]);
    f->set_boot_percpu(env.boot_percpu_base != 0 && r.gs_base == env.boot_percpu_base);
    env.Emit(cpu, std::move(e));
  }

 private:
  const char* function_;
  v1::KernelFlush::What what_;
  bool optional_;
};

}  // namespace

std::vector<std::unique_ptr<Probe>> MakeKernelFlushProbes() {
  std::vector<std::unique_ptr<Probe>> out;
  out.push_back(std::make_unique<KernelFlushProbe>("flush_tlb_one_kernel",
                                                   v1::KernelFlush::ONE_KERNEL_PAGE, false));
  out.push_back(
      std::make_unique<KernelFlushProbe>("flush_tlb_all", v1::KernelFlush::ALL_REQUESTED, false));
  out.push_back(
      std::make_unique<KernelFlushProbe>("do_flush_tlb_all", v1::KernelFlush::ALL_RECEIVED, false));
  out.push_back(
      std::make_unique<KernelFlushProbe>("cache_disable", v1::KernelFlush::CACHE_CONTROL, true));
  out.push_back(
      std::make_unique<KernelFlushProbe>("cache_enable", v1::KernelFlush::CACHE_CONTROL, true));
  return out;
}

}  // namespace tlbscope::introspect
