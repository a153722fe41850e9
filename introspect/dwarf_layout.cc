#include "introspect/dwarf_layout.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tlbscope::introspect {
namespace {

struct DwarfEnd {
  void operator()(Dwarf* d) const { dwarf_end(d); }
};

std::optional<Dwarf_Die> TypeOf(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die type;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr ||
      dwarf_formref_die(&attr, &type) == nullptr) {
    return std::nullopt;
  }
  return type;
}

// Through typedefs and qualifiers.
std::optional<Dwarf_Die> Peel(Dwarf_Die die) {
  for (int i = 0; i < 16; ++i) {
    int tag = dwarf_tag(&die);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
        tag != DW_TAG_atomic_type) {
      return die;
    }
    auto next = TypeOf(&die);
    if (!next) return std::nullopt;
    die = *next;
  }
  return std::nullopt;
}

struct Found {
  uint64_t bit_offset;
  uint64_t bit_size;  // 0 = not a bitfield
  Dwarf_Die member;
};

uint64_t UData(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attr;
  Dwarf_Word v = 0;
  if (dwarf_attr_integrate(die, name, &attr) != nullptr) dwarf_formudata(&attr, &v);
  return v;
}

std::optional<Found> FindMember(Dwarf_Die type, std::string_view name) {
  auto t = Peel(type);
  if (!t) return std::nullopt;
  int tag = dwarf_tag(&*t);
  if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type) return std::nullopt;
  Dwarf_Die m;
  if (dwarf_child(&*t, &m) != 0) return std::nullopt;
  do {
    if (dwarf_tag(&m) != DW_TAG_member) continue;
    uint64_t bit = UData(&m, DW_AT_data_member_location) * 8;
    if (dwarf_hasattr(&m, DW_AT_data_bit_offset)) bit = UData(&m, DW_AT_data_bit_offset);
    const char* mname = dwarf_diename(&m);
    if (mname != nullptr && name == mname) return Found{bit, UData(&m, DW_AT_bit_size), m};
    if (mname == nullptr) {
      auto mt = TypeOf(&m);
      if (mt) {
        if (auto inner = FindMember(*mt, name)) {
          inner->bit_offset += bit;
          return inner;
        }
      }
    }
  } while (dwarf_siblingof(&m, &m) == 0);
  return std::nullopt;
}

Field ToField(Found f) {
  Field out;
  out.found = true;
  out.offset = static_cast<uint32_t>(f.bit_offset / 8);
  if (f.bit_size != 0) {
    out.bit = f.bit_offset % 8;
    out.bits = static_cast<uint8_t>(f.bit_size);
    out.size = (out.bit + out.bits + 7) / 8;
    return out;
  }
  auto t = TypeOf(&f.member);
  Dwarf_Word size = 0;
  if (t && dwarf_aggregate_size(&*t, &size) == 0) out.size = static_cast<uint32_t>(size);
  return out;
}

void ArrayShape(Found f, uint32_t* count, uint32_t* elem_size) {
  auto t = TypeOf(&f.member);
  if (!t) return;
  t = Peel(*t);
  if (!t || dwarf_tag(&*t) != DW_TAG_array_type) return;
  Dwarf_Die sub;
  if (dwarf_child(&*t, &sub) == 0 && dwarf_tag(&sub) == DW_TAG_subrange_type) {
    if (dwarf_hasattr(&sub, DW_AT_count)) {
      *count = static_cast<uint32_t>(UData(&sub, DW_AT_count));
    } else if (dwarf_hasattr(&sub, DW_AT_upper_bound)) {
      *count = static_cast<uint32_t>(UData(&sub, DW_AT_upper_bound) + 1);
    }
  }
  auto elem = TypeOf(&*t);
  Dwarf_Word size = 0;
  if (elem && dwarf_aggregate_size(&*elem, &size) == 0) *elem_size = static_cast<uint32_t>(size);
}

// The first complete definition of each wanted struct, over every unit.
std::map<std::string, Dwarf_Die> FindStructs(Dwarf* dw, const std::set<std::string>& wanted) {
  std::map<std::string, Dwarf_Die> out;
  Dwarf_CU* cu = nullptr;
  Dwarf_Die cudie, subdie;
  uint8_t unit_type;
  while (out.size() < wanted.size() &&
         dwarf_get_units(dw, cu, &cu, nullptr, &unit_type, &cudie, &subdie) == 0) {
    Dwarf_Die d;
    if (dwarf_child(&cudie, &d) != 0) continue;
    do {
      if (dwarf_tag(&d) != DW_TAG_structure_type || dwarf_hasattr(&d, DW_AT_declaration)) continue;
      const char* name = dwarf_diename(&d);
      if (name != nullptr && wanted.contains(name) && !out.contains(name)) out.emplace(name, d);
    } while (dwarf_siblingof(&d, &d) == 0);
  }
  return out;
}

// The value of enumerator `name` in the first top-level enum that has it.
std::optional<uint64_t> FindEnumerator(Dwarf* dw, const char* name) {
  Dwarf_CU* cu = nullptr;
  Dwarf_Die cudie, subdie;
  uint8_t unit_type;
  while (dwarf_get_units(dw, cu, &cu, nullptr, &unit_type, &cudie, &subdie) == 0) {
    Dwarf_Die d;
    if (dwarf_child(&cudie, &d) != 0) continue;
    do {
      Dwarf_Die e;
      if (dwarf_tag(&d) != DW_TAG_enumeration_type || dwarf_child(&d, &e) != 0) continue;
      do {
        const char* n = dwarf_diename(&e);
        if (n == nullptr || strcmp(n, name) != 0) continue;
        Dwarf_Attribute attr;
        Dwarf_Sword v = 0;
        if (dwarf_attr(&e, DW_AT_const_value, &attr) == nullptr || dwarf_formsdata(&attr, &v) != 0)
          return std::nullopt;
        return static_cast<uint64_t>(v);
      } while (dwarf_siblingof(&e, &e) == 0);
    } while (dwarf_siblingof(&d, &d) == 0);
  }
  return std::nullopt;
}

// sizeof(struct NAME), or 0 when the DWARF lacks it or it is over 4 KiB.
uint32_t StructSize(std::map<std::string, Dwarf_Die>& structs, const char* name) {
  Dwarf_Word size = 0;
  auto it = structs.find(name);
  if (it == structs.end() || dwarf_aggregate_size(&it->second, &size) != 0) return 0;
  return size > 0 && size <= 4096 ? static_cast<uint32_t>(size) : 0;
}

}  // namespace

absl::StatusOr<KernelLayout> LayoutFromDwarf(const ElfImage& image,
                                             std::vector<std::string>* missing) {
  if (image.Section(".debug_info") == nullptr) return absl::NotFoundError("no DWARF (.debug_info)");
  std::unique_ptr<Dwarf, DwarfEnd> dw(dwarf_begin_elf(image.elf(), DWARF_C_READ, nullptr));
  if (dw == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat("DWARF: %s", dwarf_errmsg(-1)));
  }
  std::set<std::string> wanted;
  for (const FieldRequest& r : FieldRequests()) wanted.insert(r.type);
  wanted.insert("page");
  std::map<std::string, Dwarf_Die> structs = FindStructs(dw.get(), wanted);
  KernelLayout layout;
  layout.source = "DWARF";
  for (const FieldRequest& r : FieldRequests()) {
    auto s = structs.find(r.type);
    std::optional<Found> at;
    if (s != structs.end()) {
      at = Found{0, 0, s->second};
      bool first = true;
      for (absl::string_view p : absl::StrSplit(r.path, '.')) {
        Dwarf_Die type = s->second;
        if (!first) {
          auto t = TypeOf(&at->member);
          if (!t) {
            at.reset();
            break;
          }
          type = *t;
        }
        first = false;
        auto m = FindMember(type, std::string_view(p.data(), p.size()));
        if (!m) {
          at.reset();
          break;
        }
        m->bit_offset += at->bit_offset;
        at = m;
      }
    }
    if (!at) {
      if (r.required) missing->push_back(absl::StrFormat("%s.%s", r.type, r.path));
      continue;
    }
    layout.*r.dest = ToField(*at);
    if (r.dest == &KernelLayout::ts_ctxs) {
      ArrayShape(*at, &layout.ts_ctxs_count, &layout.tlb_context_size);
    }
  }
  layout.page_struct_size = StructSize(structs, "page");
  layout.alt_instr_size = StructSize(structs, "alt_instr");
  layout.membarrier_sync_core_state =
      FindEnumerator(dw.get(), "MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE");
  layout.system_scheduling_state = FindEnumerator(dw.get(), "SYSTEM_SCHEDULING");
  return layout;
}

}  // namespace tlbscope::introspect
