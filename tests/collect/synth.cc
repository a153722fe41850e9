#include "tests/collect/synth.h"

#include <google/protobuf/util/delimited_message_util.h>

#include <fstream>

namespace tlbscope::collect::testing {

v1::Event& Synth::Add(uint32_t vcpu) {
  v1::Event& e = events_.emplace_back();
  e.set_vcpu(vcpu);
  e.set_sequence(events_.size() - 1);
  e.set_vcpu_sequence(vseq_[vcpu]++);
  ns_ += 1000;
  e.set_host_time_ns(ns_);
  e.set_guest_tsc(static_cast<uint64_t>(ns_) * 3);
  return e;
}

void Synth::Cr3(uint32_t v, uint64_t cr3, bool boot) {
  v1::Event& e = Add(v);
  e.mutable_trap()->set_strategy("hw-breakpoint+emulate");
  e.mutable_trap()->set_site_class(boot ? "boot" : "switch_mm");
  e.mutable_trap()->set_rip(0x101000);
  auto* c = e.mutable_cr3_write();
  c->set_new_cr3(cr3);
  c->set_root(cr3 & 0x000ffffffffff000ull);
}

void Synth::Invlpg(uint32_t v, uint64_t addr) {
  v1::Event& e = Add(v);
  e.mutable_trap()->set_site_class("flush");
  e.mutable_invlpg()->set_linear_address(addr);
}

void Synth::Invpcid(uint32_t v, uint32_t type, uint64_t addr) {
  v1::Event& e = Add(v);
  e.mutable_trap()->set_site_class("flush");
  e.mutable_invpcid()->set_type(type);
  e.mutable_invpcid()->set_linear_address(addr);
}

void Synth::ContextSwitch(uint32_t v, uint64_t prev, uint64_t next, uint64_t cr3, bool was_lazy,
                          bool reload, uint64_t cpu_lam, uint64_t mm_lam) {
  auto* c = Add(v).mutable_context_switch();
  c->set_prev_mm(prev);
  c->set_next_mm(next);
  c->set_cr3(cr3);
  c->set_need_flush(cr3 != 0);
  c->set_was_lazy(was_lazy);
  c->set_reload(reload);
  c->set_cpu_lam(cpu_lam);
  c->set_mm_lam(mm_lam);
}

void Synth::Cpumask(uint32_t v, uint64_t mm, uint64_t mask, uint32_t cpu, bool set) {
  auto* c = Add(v).mutable_cpumask();
  c->set_mm(mm);
  for (uint32_t i = 0; i < 64; ++i) {
    if (mask & (1ull << i)) c->add_cpus(i);
  }
  c->set_cpu(cpu);
  c->set_set(set);
}

void Synth::LazyEnter(uint32_t v, uint64_t mm) { Add(v).mutable_lazy_enter()->set_mm(mm); }

void Synth::LazyExit(uint32_t v, uint64_t mm, bool flushed) {
  auto* l = Add(v).mutable_lazy_exit();
  l->set_mm(mm);
  l->set_flushed(flushed);
}

void Synth::FlushRequest(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                         uint64_t targets, bool freed, uint32_t stride) {
  auto* r = Add(v).mutable_flush_request();
  r->set_mm(mm);
  r->set_start(start);
  r->set_end(end);
  r->set_new_tlb_gen(gen);
  r->set_freed_tables(freed);
  r->set_stride_shift(stride);
  for (uint32_t i = 0; i < 64; ++i) {
    if (targets & (1ull << i)) r->add_target_cpus(i);
  }
}

void Synth::IpiSent(uint32_t v, uint32_t target, uint32_t vector) {
  auto* i = Add(v).mutable_ipi_sent();
  i->add_target_cpus(target);
  i->set_vector(vector);
}

void Synth::IpiReceived(uint32_t v, uint32_t vector) {
  Add(v).mutable_ipi_received()->set_vector(vector);
}

void Synth::FlushFunc(uint32_t v, uint64_t mm, uint64_t before, uint64_t after, uint64_t mm_gen,
                      uint64_t start, uint64_t end, bool full, bool lazy_left, bool not_loaded) {
  auto* f = Add(v).mutable_flush_func();
  f->set_mm(mm);
  f->set_local_gen_before(before);
  f->set_local_gen_after(after);
  f->set_mm_gen(mm_gen);
  f->set_start(start);
  f->set_end(end);
  f->set_full(full);
  f->set_lazy_left(lazy_left);
  f->set_not_loaded(not_loaded);
}

void Synth::FlushDone(uint32_t v, uint64_t mm, uint64_t gen, uint64_t acked) {
  auto* d = Add(v).mutable_flush_done();
  d->set_mm(mm);
  d->set_tlb_gen(gen);
  for (uint32_t i = 0; i < 64; ++i) {
    if (acked & (1ull << i)) d->add_acked_cpus(i);
  }
}

void Synth::GatherStart(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t pending) {
  auto* g = Add(v).mutable_gather_start();
  g->set_mm(mm);
  g->set_start(start);
  g->set_end(end);
  g->set_pending(pending);
}

void Synth::GatherEnd(uint32_t v, uint64_t mm, uint64_t fstart, uint64_t fend, uint64_t gen,
                      uint32_t levels, uint64_t pending_seen, bool nested, bool freed,
                      bool own_freed) {
  auto* g = Add(v).mutable_gather_end();
  g->set_mm(mm);
  g->set_flushed_start(fstart);
  g->set_flushed_end(fend);
  g->set_flush_tlb_gen(gen);
  g->set_levels(levels);
  g->set_pending_seen(pending_seen);
  g->set_nested(nested);
  g->set_freed_tables(freed);
  g->set_own_freed_tables(own_freed);
}

void Synth::PageFree(uint32_t v, uint64_t mm, uint64_t addr, uint64_t gen) {
  auto* p = Add(v).mutable_page_free();
  p->set_mm(mm);
  p->set_address(addr);
  p->set_physical_address(0x400000 + addr % 0x100000);
  p->set_covering_tlb_gen(gen);
}

void Synth::TableFree(uint32_t v, uint64_t mm, uint64_t table, uint32_t level, uint64_t gen) {
  auto* p = Add(v).mutable_page_table_free();
  p->set_mm(mm);
  p->set_table_address(table);
  p->set_level(level);
  p->set_covering_tlb_gen(gen);
}

void Synth::LamSet(uint32_t v, uint64_t mm, uint64_t bits) {
  auto* l = Add(v).mutable_lam_set();
  l->set_mm(mm);
  l->set_lam_cr3_bits(bits);
  l->set_untag_mask(~0ull >> 7);
}

void Synth::Membarrier(uint32_t v, uint64_t mm) {
  Add(v).mutable_membarrier_register()->set_mm(mm);
}

void Synth::SyncCore(uint32_t v, uint64_t mm) {
  auto* s = Add(v).mutable_sync_core();
  s->set_mm(mm);
  s->set_reason(1);
}

void Synth::UserEnter(uint32_t v, uint64_t mm, uint64_t local_gen, uint64_t mm_gen, uint64_t lam) {
  auto* u = Add(v).mutable_user_enter();
  u->set_mm(mm);
  u->set_local_gen(local_gen);
  u->set_mm_gen(mm_gen);
  u->set_cpu_lam(lam);
}

void Synth::UserExit(uint32_t v, uint64_t mm, uint32_t vector) {
  auto* u = Add(v).mutable_user_exit();
  u->set_mm(mm);
  u->set_vector(vector);
}

void Synth::StaleRead(uint32_t v, uint64_t mm, uint64_t addr) {
  auto* s = Add(v).mutable_stale_read();
  s->set_mm(mm);
  s->set_address(addr);
  s->set_expected(2);
  s->set_observed(1);
}

void Synth::SwitchTo(uint32_t v, uint64_t prev, uint64_t next, uint64_t cpu_lam, uint64_t mm_lam) {
  if (next != kInit) {
    masks_[next] |= 1ull << v;
    Cpumask(v, next, masks_[next], v, true);
  }
  ContextSwitch(v, prev, next, RootOf(next) | cpu_lam, false, false, cpu_lam, mm_lam);
  Cr3(v, RootOf(next) | cpu_lam);
}

void Synth::Serves(uint64_t request_gen) {
  events_.back().mutable_flush_func()->set_request_tlb_gen(request_gen);
}

void Synth::TargetFlush(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                        bool remote) {
  if (remote) IpiReceived(v);
  bool full = end == kFlushAll;
  if (full) {
    ContextSwitch(v, mm, mm, RootOf(mm), false, true);
    Cr3(v, RootOf(mm));
  } else {
    for (uint64_t a = start; a < end; a += 4096) Invlpg(v, a);
  }
  FlushFunc(v, mm, gen - 1, gen, gen, start, end, full);
}

void Synth::Shootdown(uint32_t init, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                      uint64_t targets, bool freed) {
  FlushRequest(init, mm, start, end, gen, targets, freed);
  for (uint32_t c = 0; c < 64; ++c) {
    if (c != init && (targets & (1ull << c))) IpiSent(init, c);
  }
  if (targets & (1ull << init)) TargetFlush(init, mm, start, end, gen, false);
  for (uint32_t c = 0; c < 64; ++c) {
    if (c != init && (targets & (1ull << c))) TargetFlush(c, mm, start, end, gen, true);
  }
  FlushDone(init, mm, gen, targets);
}

void Synth::WriteTrace(const std::string& path, int smp, bool with_end,
                       const std::string& event_source) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  v1::TraceRecord h;
  h.mutable_header()->set_schema_version(1);
  h.mutable_header()->mutable_vm()->set_smp(smp);
  h.mutable_header()->mutable_vm()->set_cmdline("scenario=synthetic");
  h.mutable_header()->set_event_source(event_source);
  h.mutable_header()->mutable_traps()->set_cr3("hw-breakpoint+emulate");
  h.mutable_header()->mutable_traps()->set_invlpg("hw-breakpoint+step");
  h.mutable_header()->mutable_traps()->set_invpcid("emulation-failure");
  google::protobuf::util::SerializeDelimitedToOstream(h, &f);
  for (const v1::Event& e : events_) {
    v1::TraceRecord r;
    *r.mutable_event() = e;
    google::protobuf::util::SerializeDelimitedToOstream(r, &f);
  }
  if (with_end) {
    v1::TraceRecord r;
    r.mutable_end()->set_events(events_.size());
    r.mutable_end()->set_stop_reason("guest-exit");
    google::protobuf::util::SerializeDelimitedToOstream(r, &f);
  }
}

std::vector<std::string> Synth::Check(Collector* out) const {
  Collector local;
  Collector& c = out != nullptr ? *out : local;
  for (const v1::Event& e : events_) c.Observe(e);
  c.Finish(true);
  std::vector<std::string> names;
  for (const Violation& v : c.violations()) names.push_back(v.invariant);
  return names;
}

}  // namespace tlbscope::collect::testing
