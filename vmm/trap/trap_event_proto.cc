#include "vmm/trap/trap_event_proto.h"

#include <cstring>

namespace tlbscope {

v1::Event TrapEventToProto(const TrapEvent& e) {
  v1::Event out;
  out.set_host_time_ns(e.host_ns);
  out.set_guest_tsc(e.guest_tsc);
  v1::TrapContext* t = out.mutable_trap();
  t->set_strategy(TrapStrategyName(e.strategy));
  t->set_emulated(e.emulated);
  t->set_rip(e.rip);
  t->set_symbol(e.symbol);
  t->set_site_class(SiteClassName(e.site_class));
  switch (e.kind) {
    case TlbInsn::kMovCr3: {
      Cr3Fields f = DecodeCr3(e.new_cr3, e.pcide);
      v1::Cr3Write* c = out.mutable_cr3_write();
      c->set_old_cr3(e.old_cr3);
      c->set_new_cr3(e.new_cr3);
      c->set_root(f.root);
      c->set_pcid(f.pcid);
      c->set_noflush(f.noflush);
      c->set_lam_u57(f.lam_u57);
      c->set_lam_u48(f.lam_u48);
      c->set_pcide(e.pcide);
      c->set_entry_checked(e.entry_checked);
      c->set_entry_mapped(e.entry_mapped);
      c->set_entry_paddr(e.entry_paddr);
      break;
    }
    case TlbInsn::kInvlpg:
      out.mutable_invlpg()->set_linear_address(e.linear);
      break;
    case TlbInsn::kInvpcid: {
      uint64_t pcid, addr;
      std::memcpy(&pcid, e.descriptor.data(), 8);
      std::memcpy(&addr, e.descriptor.data() + 8, 8);
      v1::Invpcid* p = out.mutable_invpcid();
      p->set_type(static_cast<uint32_t>(e.invpcid_type));
      p->set_descriptor_address(e.descriptor_gva);
      p->set_pcid(static_cast<uint32_t>(pcid & 0xfff));
      p->set_linear_address(addr);
      p->set_faulted(e.faulted);
      break;
    }
  }
  return out;
}

}  // namespace tlbscope
