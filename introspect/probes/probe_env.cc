#include <algorithm>

#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

// Gathers in flight at once: one per task in munmap/madvise/exit, at most.
constexpr size_t kMaxGathers = 256;
constexpr size_t kMaxSeenMms = 4096;  // per set

}  // namespace

GatherFrees& ProbeEnv::Frees(uint64_t tlb) {
  for (auto& [address, frees] : frees_) {
    if (address == tlb) return frees;
  }
  if (frees_.size() >= kMaxGathers) frees_.erase(frees_.begin());
  frees_.emplace_back(tlb, GatherFrees{});
  return frees_.back().second;
}

GatherFrees ProbeEnv::TakeFrees(uint64_t tlb) {
  auto it =
      std::find_if(frees_.begin(), frees_.end(), [&](const auto& f) { return f.first == tlb; });
  if (it == frees_.end()) return {};
  GatherFrees out = std::move(it->second);
  frees_.erase(it);
  return out;
}

bool ProbeEnv::FirstIn(std::vector<uint64_t>& seen, uint64_t mm_ctx) {
  if (std::find(seen.begin(), seen.end(), mm_ctx) != seen.end()) return false;
  if (seen.size() >= kMaxSeenMms) seen.erase(seen.begin());
  seen.push_back(mm_ctx);
  return true;
}

void EmitGatherFrees(ProbeEnv& env, uint32_t cpu, uint64_t tlb, uint64_t mm_ctx,
                     uint64_t covering_gen) {
  GatherFrees f = env.TakeFrees(tlb);
  for (const GatherFrees::Table& t : f.tables) {
    v1::Event e;
    v1::PageTableFree* p = e.mutable_page_table_free();
    p->set_mm(mm_ctx);
    p->set_table_address(t.address);
    p->set_level(t.level);
    p->set_covering_tlb_gen(covering_gen);
    env.Emit(cpu, std::move(e));
  }
  for (uint64_t page : f.pages) {
    v1::Event e;
    v1::PageFree* p = e.mutable_page_free();
    p->set_mm(mm_ctx);
    p->set_kernel_page(page);
    p->set_covering_tlb_gen(covering_gen);
    env.Emit(cpu, std::move(e));
  }
}

}  // namespace tlbscope::introspect
