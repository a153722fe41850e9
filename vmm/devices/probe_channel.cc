#include "vmm/devices/probe_channel.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "tlbscope/probe_abi.h"

namespace tlbscope {
namespace {

// Copies a fixed-size guest char array up to its NUL (or its end), keeping
// only printable bytes so a guest cannot garble the host terminal.
template <size_t N>
std::string GuestString(const char (&field)[N]) {
  std::string s;
  for (size_t i = 0; i < N && field[i] != '\0'; ++i) {
    unsigned char c = static_cast<unsigned char>(field[i]);
    s.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return s;
}

StopRequest BadMessage(std::string msg) {
  return StopRequest{StopReason::kBadProbeMessage, 0, std::move(msg)};
}

}  // namespace

int GuestReport::passed() const {
  int n = 0;
  for (const GuestCheck& c : checks) n += c.passed ? 1 : 0;
  return n;
}

int GuestReport::failed() const { return static_cast<int>(checks.size()) - passed(); }

std::string ExceptionName(uint64_t vector) {
  static const char* const kNames[32] = {
      "#DE", "#DB", "NMI", "#BP", "#OF",      "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
      "#NP", "#SS", "#GP", "#PF", "reserved", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  if (vector < 32 && kNames[vector] != nullptr) return kNames[vector];
  return absl::StrFormat("vector %d", vector);
}

IoOutcome ProbeChannel::RegisterRing(int vcpu, uint64_t gpa) {
  if (ring_vcpus_.contains(vcpu)) {
    return BadMessage(absl::StrFormat(
        "event ring at %#x: vcpu %d registered an event ring already (one per CPU)", gpa, vcpu));
  }
  absl::StatusOr<tlbscope_ring> hdr = mem_->ReadObject<tlbscope_ring>(gpa);
  if (!hdr.ok()) {
    return BadMessage(absl::StrFormat("event ring at %#x: %s", gpa, hdr.status().message()));
  }
  bool pow2 = hdr->nslots != 0 && (hdr->nslots & (hdr->nslots - 1)) == 0;
  if (hdr->magic != TLBSCOPE_RING_MAGIC || hdr->abi_version != TLBSCOPE_RING_ABI_VERSION ||
      hdr->record_size != sizeof(tlbscope_ring_record) || !pow2 || hdr->nslots > (1u << 20)) {
    return BadMessage(absl::StrFormat(
        "event ring at %#x has magic %#x version %d record size %d slots %d (want %#x, %d, %d, "
        "a power of two)",
        gpa, hdr->magic, hdr->abi_version, hdr->record_size, hdr->nslots, TLBSCOPE_RING_MAGIC,
        TLBSCOPE_RING_ABI_VERSION, sizeof(tlbscope_ring_record)));
  }
  uint64_t bytes = sizeof(tlbscope_ring) + uint64_t{hdr->nslots} * sizeof(tlbscope_ring_record);
  absl::StatusOr<uint8_t*> host = mem_->Ptr(gpa, bytes);
  if (!host.ok()) {
    return BadMessage(absl::StrFormat("event ring at %#x: %s", gpa, host.status().message()));
  }
  ++report_.rings;
  ring_vcpus_.insert(vcpu);
  if (trace_ != nullptr) {
    trace_->AddGuestRing(vcpu, reinterpret_cast<tlbscope_ring*>(*host), hdr->nslots);
  }
  return std::nullopt;
}

IoOutcome ProbeChannel::Write(int vcpu, uint16_t, std::span<const uint8_t> data) {
  if (data.size() != 4) {
    return BadMessage(
        absl::StrFormat("probe port takes a 32-bit OUT of a guest physical "
                        "address, got a %d-byte write",
                        data.size()));
  }
  uint32_t gpa;
  std::memcpy(&gpa, data.data(), 4);
  absl::StatusOr<tlbscope_probe_msg> m = mem_->ReadObject<tlbscope_probe_msg>(gpa);
  if (!m.ok()) {
    return BadMessage(absl::StrFormat("probe message at %#x: %s", gpa, m.status().message()));
  }
  if (m->magic != TLBSCOPE_PROBE_MAGIC || m->abi_version != TLBSCOPE_PROBE_ABI_VERSION) {
    return BadMessage(absl::StrFormat(
        "probe message at %#x has magic %#x version %d (want "
        "%#x version %d)",
        gpa, m->magic, m->abi_version, TLBSCOPE_PROBE_MAGIC, TLBSCOPE_PROBE_ABI_VERSION));
  }
  switch (m->kind) {
    case TLBSCOPE_PROBE_HELLO:
      report_.guest_name = GuestString(m->name);
      report_.cpus_found = static_cast<int>(m->arg[0]);
      report_.cpus_online.insert(static_cast<int>(m->cpu));
      return std::nullopt;
    case TLBSCOPE_PROBE_RESULT:
      report_.checks.push_back(
          {static_cast<int>(m->cpu), GuestString(m->name), m->arg[0] != 0, GuestString(m->text)});
      return std::nullopt;
    case TLBSCOPE_PROBE_ASSERT:
      return StopRequest{StopReason::kGuestAssert, 0,
                         absl::StrFormat("guest assertion failed at %s:%d: %s",
                                         GuestString(m->file), m->line, GuestString(m->text))};
    case TLBSCOPE_PROBE_EXCEPTION:
      return StopRequest{
          StopReason::kGuestException, 0,
          absl::StrFormat("guest exception %s (vector %d) at rip 0x%x, error code 0x%x, cr2 0x%x",
                          ExceptionName(m->arg[0]), m->arg[0], m->arg[1], m->arg[2], m->arg[3]),
          /*names_rip=*/true};
    case TLBSCOPE_PROBE_LOG:
      report_.log.push_back(GuestString(m->text));
      if (trace_ != nullptr) {
        v1::Event e;
        e.mutable_guest_log()->set_text(report_.log.back());
        trace_->Append(vcpu, std::move(e));
      }
      return std::nullopt;
    case TLBSCOPE_PROBE_CPU_ONLINE:
      report_.cpus_online.insert(static_cast<int>(m->arg[0]));
      return std::nullopt;
    case TLBSCOPE_PROBE_TLB_COUNTS:
      report_.tlb_counts[static_cast<int>(m->cpu)] = {m->arg[0], m->arg[1], m->arg[2]};
      return std::nullopt;
    case TLBSCOPE_PROBE_RING:
      return RegisterRing(vcpu, m->arg[0]);
    case TLBSCOPE_PROBE_DONE:
      report_.done = {m->arg[0], m->arg[1]};
      return std::nullopt;
    default:
      return BadMessage(absl::StrFormat("probe message at %#x from vcpu %d has unknown kind %d",
                                        gpa, vcpu, m->kind));
  }
}

IoOutcome ProbeChannel::Read(int, uint16_t, std::span<uint8_t> data) {
  // Reading the port returns the ABI version, so a guest can detect tlbscope.
  std::memset(data.data(), 0, data.size());
  data[0] = TLBSCOPE_PROBE_ABI_VERSION;
  return std::nullopt;
}

}  // namespace tlbscope
