#include "introspect/btf_layout.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tlbscope::introspect {
namespace {

struct BtfFree {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfFree>;

// The struct (not a forward declaration) named `name`.
std::optional<uint32_t> FindStruct(const btf* b, const char* name) {
  int32_t id = btf__find_by_name_kind(b, name, BTF_KIND_STRUCT);
  if (id < 0) return std::nullopt;
  return static_cast<uint32_t>(id);
}

struct Found {
  uint32_t bit_offset;
  uint32_t bitfield_size;
  uint32_t type_id;
};

// Member `name` of composite `type_id`, looking into anonymous members.
std::optional<Found> FindMember(const btf* b, uint32_t type_id, std::string_view name) {
  int32_t resolved = btf__resolve_type(b, type_id);
  if (resolved < 0) return std::nullopt;
  const btf_type* t = btf__type_by_id(b, resolved);
  if (t == nullptr || !btf_is_composite(t)) return std::nullopt;
  const btf_member* m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i) {
    const char* mname = btf__name_by_offset(b, m[i].name_off);
    uint32_t bit = btf_member_bit_offset(t, i);
    if (mname != nullptr && name == mname) {
      return Found{bit, btf_member_bitfield_size(t, i), m[i].type};
    }
    if (mname == nullptr || *mname == '\0') {
      if (auto inner = FindMember(b, m[i].type, name)) {
        inner->bit_offset += bit;
        return inner;
      }
    }
  }
  return std::nullopt;
}

std::optional<Found> FindPath(const btf* b, uint32_t struct_id, std::string_view path) {
  Found at{0, 0, struct_id};
  for (absl::string_view p : absl::StrSplit(absl::string_view(path.data(), path.size()), '.')) {
    auto m = FindMember(b, at.type_id, std::string_view(p.data(), p.size()));
    if (!m) return std::nullopt;
    m->bit_offset += at.bit_offset;
    at = *m;
  }
  return at;
}

Field ToField(const btf* b, const Found& f) {
  Field out;
  out.found = true;
  out.offset = f.bit_offset / 8;
  if (f.bitfield_size != 0) {
    out.bit = f.bit_offset % 8;
    out.bits = static_cast<uint8_t>(f.bitfield_size);
    out.size = (out.bit + out.bits + 7) / 8;
  } else {
    int64_t size = btf__resolve_size(b, f.type_id);
    out.size = size > 0 ? static_cast<uint32_t>(size) : 0;
  }
  return out;
}

// ctxs[]: element count and element size.
void ArrayShape(const btf* b, uint32_t type_id, uint32_t* count, uint32_t* elem_size) {
  int32_t id = btf__resolve_type(b, type_id);
  const btf_type* t = id < 0 ? nullptr : btf__type_by_id(b, id);
  if (t == nullptr || !btf_is_array(t)) return;
  *count = btf_array(t)->nelems;
  int64_t size = btf__resolve_size(b, btf_array(t)->type);
  *elem_size = size > 0 ? static_cast<uint32_t>(size) : 0;
}

// Per-CPU variable offsets from the .data..percpu DATASEC pahole emits.
void PerCpuOffsets(const btf* b, KernelLayout* layout) {
  int32_t id = btf__find_by_name_kind(b, ".data..percpu", BTF_KIND_DATASEC);
  if (id < 0) return;
  const btf_type* t = btf__type_by_id(b, id);
  const btf_var_secinfo* v = btf_var_secinfos(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i) {
    const btf_type* var = btf__type_by_id(b, v[i].type);
    if (var == nullptr) continue;
    const char* name = btf__name_by_offset(b, var->name_off);
    if (name == nullptr) continue;
    if (strcmp(name, "cpu_tlbstate") == 0) {
      layout->pcpu_cpu_tlbstate = v[i].offset;
      layout->has_pcpu_cpu_tlbstate = true;
    } else if (strcmp(name, "cpu_tlbstate_shared") == 0) {
      layout->pcpu_cpu_tlbstate_shared = v[i].offset;
      layout->has_pcpu_cpu_tlbstate_shared = true;
    }
  }
}

// The value of enumerator `name` in any enum of the BTF.
std::optional<uint64_t> Enumerator(const btf* b, const char* name) {
  for (uint32_t id = 1; id < btf__type_cnt(b); ++id) {
    const btf_type* t = btf__type_by_id(b, id);
    if (t == nullptr || !btf_is_enum(t)) continue;
    const struct btf_enum* e = btf_enum(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i) {
      const char* n = btf__name_by_offset(b, e[i].name_off);
      if (n != nullptr && strcmp(n, name) == 0) return static_cast<uint32_t>(e[i].val);
    }
  }
  return std::nullopt;
}

// sizeof(struct NAME), or 0 when the BTF lacks it or it is over 4 KiB.
uint32_t StructSize(const btf* b, const char* name) {
  std::optional<uint32_t> id = FindStruct(b, name);
  if (!id) return 0;
  int64_t size = btf__resolve_size(b, *id);
  return size > 0 && size <= 4096 ? static_cast<uint32_t>(size) : 0;
}

// Facts that are not members: struct sizes, enumerators.
void OtherFacts(const btf* b, KernelLayout* layout) {
  layout->page_struct_size = StructSize(b, "page");
  layout->alt_instr_size = StructSize(b, "alt_instr");
  layout->membarrier_sync_core_state =
      Enumerator(b, "MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE");
  layout->system_scheduling_state = Enumerator(b, "SYSTEM_SCHEDULING");
}

}  // namespace

absl::StatusOr<KernelLayout> LayoutFromBtf(std::span<const uint8_t> blob, const std::string& what,
                                           std::vector<std::string>* missing) {
  if (blob.size() < 24) return absl::InvalidArgumentError("BTF " + what + ": too short");
  errno = 0;
  BtfPtr b(btf__new(blob.data(), static_cast<uint32_t>(blob.size())));
  if (b == nullptr || libbpf_get_error(b.get()) != 0) {
    b.release();
    return absl::InvalidArgumentError(
        absl::StrFormat("BTF %s: libbpf rejected it (%s)", what, strerror(errno ? errno : EINVAL)));
  }
  KernelLayout layout;
  layout.source = "BTF " + what;
  if (!FindStruct(b.get(), "mm_struct") && !FindStruct(b.get(), "tlb_state")) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "BTF %s: has neither mm_struct nor tlb_state (corrupt, or not a kernel's BTF)", what));
  }
  for (const FieldRequest& r : FieldRequests()) {
    std::optional<uint32_t> s = FindStruct(b.get(), r.type);
    std::optional<Found> f = s ? FindPath(b.get(), *s, r.path) : std::nullopt;
    if (!f) {
      if (r.required) missing->push_back(absl::StrFormat("%s.%s", r.type, r.path));
      continue;
    }
    layout.*r.dest = ToField(b.get(), *f);
    if (r.dest == &KernelLayout::ts_ctxs) {
      ArrayShape(b.get(), f->type_id, &layout.ts_ctxs_count, &layout.tlb_context_size);
    }
  }
  PerCpuOffsets(b.get(), &layout);
  OtherFacts(b.get(), &layout);
  return layout;
}

}  // namespace tlbscope::introspect
