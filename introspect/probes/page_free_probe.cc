// __tlb_remove_folio_pages(tlb, page, nr_pages, delay_rmap) and
// __tlb_remove_page_size(tlb, page, ...): zap_pte_range() cleared a user
// PTE and gives its page to the gather, which frees it after its flush
// (tlb_flush_mmu_free). The entry notes the struct page with the gather;
// tlb_finish_mmu's return emits one page_free per page (at most
// kMaxFreesPerGather), covered by the flush the gather made. The user
// address and the physical address are not known here (0); kernel_page
// names the page.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class PageFreeProbe : public Probe {
 public:
  explicit PageFreeProbe(const char* function) : function_(function) {}
  const char* function() const override { return function_; }
  bool optional() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState&, uint32_t, const ProbeRegs& r) override {
    env.Frees(r.arg[0]).AddPage(r.arg[1]);
  }

 private:
  const char* function_;
};

}  // namespace

std::vector<std::unique_ptr<Probe>> MakePageFreeProbes() {
  std::vector<std::unique_ptr<Probe>> out;
  out.push_back(std::make_unique<PageFreeProbe>("__tlb_remove_folio_pages"));  // 6.9 and later
  out.push_back(std::make_unique<PageFreeProbe>("__tlb_remove_page_size"));
  return out;
}

}  // namespace tlbscope::introspect
