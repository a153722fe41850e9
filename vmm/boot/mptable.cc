// Intel MultiProcessor Specification 1.4 tables, as kvmtool and Firecracker
// write them: how the guest learns how many CPUs there are and their APIC ids.

#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

#pragma pack(push, 1)
struct MpFloatingPointer {
  char signature[4];  // "_MP_"
  uint32_t physptr;
  uint8_t length;  // in 16-byte units
  uint8_t spec_rev;
  uint8_t checksum;
  uint8_t feature[5];
};
struct MpConfigHeader {
  char signature[4];  // "PCMP"
  uint16_t length;
  uint8_t spec_rev;
  uint8_t checksum;
  char oem_id[8];
  char product_id[12];
  uint32_t oem_table;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t lapic_addr;
  uint16_t ext_length;
  uint8_t ext_checksum;
  uint8_t reserved;
};
struct MpProcessor {
  uint8_t type;  // 0
  uint8_t apic_id;
  uint8_t apic_version;
  uint8_t flags;  // bit 0 enabled, bit 1 BSP
  uint32_t signature;
  uint32_t features;
  uint32_t reserved[2];
};
struct MpBus {
  uint8_t type;  // 1
  uint8_t bus_id;
  char bus_type[6];
};
struct MpIoapic {
  uint8_t type;  // 2
  uint8_t apic_id;
  uint8_t version;
  uint8_t flags;
  uint32_t addr;
};
struct MpInterrupt {
  uint8_t type;  // 3 I/O interrupt, 4 local interrupt
  uint8_t irq_type;
  uint16_t flags;
  uint8_t src_bus;
  uint8_t src_irq;
  uint8_t dst_apic;
  uint8_t dst_pin;
};
#pragma pack(pop)
static_assert(sizeof(MpFloatingPointer) == 16 && sizeof(MpConfigHeader) == 44);
static_assert(sizeof(MpProcessor) == 20 && sizeof(MpBus) == 8 && sizeof(MpIoapic) == 8 &&
              sizeof(MpInterrupt) == 8);

constexpr uint8_t kIrqInt = 0, kIrqNmi = 1, kIrqExtInt = 3;
constexpr int kMaxMpCpus = 254;

uint8_t Checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i];
  return static_cast<uint8_t>(-sum);
}

template <typename T>
void Append(std::vector<uint8_t>& out, const T& v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

absl::Status WriteMpTable(GuestMemory& mem, int num_cpus) {
  if (num_cpus < 1 || num_cpus > kMaxMpCpus) {
    return absl::InvalidArgumentError(absl::StrFormat("MP table: %d CPUs", num_cpus));
  }
  std::vector<uint8_t> entries;
  uint16_t count = 0;
  for (int i = 0; i < num_cpus; ++i, ++count) {
    MpProcessor p{};
    p.type = 0;
    p.apic_id = static_cast<uint8_t>(i);
    p.apic_version = 0x14;
    p.flags = 1 | (i == 0 ? 2 : 0);
    p.signature = 0x600;
    p.features = 0x201;  // FPU, APIC
    Append(entries, p);
  }
  Append(entries, MpBus{1, 0, {'I', 'S', 'A', ' ', ' ', ' '}});
  ++count;
  const auto ioapic_id = static_cast<uint8_t>(num_cpus);
  Append(entries, MpIoapic{2, ioapic_id, 0x11, 1, static_cast<uint32_t>(layout::kIoapicBase)});
  ++count;
  // KVM's default GSI routing sends ISA IRQ n to IOAPIC pin n.
  for (uint8_t irq = 0; irq < 16; ++irq, ++count) {
    Append(entries, MpInterrupt{3, kIrqInt, 0, 0, irq, ioapic_id, irq});
  }
  Append(entries, MpInterrupt{4, kIrqExtInt, 0, 0, 0, 0xff, 0});
  Append(entries, MpInterrupt{4, kIrqNmi, 0, 0, 0, 0xff, 1});
  count += 2;

  MpConfigHeader hdr{};
  std::memcpy(hdr.signature, "PCMP", 4);
  hdr.length = static_cast<uint16_t>(sizeof(hdr) + entries.size());
  hdr.spec_rev = 4;
  std::memcpy(hdr.oem_id, "TLBSCOPE", 8);
  std::memcpy(hdr.product_id, "TLBSCOPE VMM", 12);
  hdr.entry_count = count;
  hdr.lapic_addr = static_cast<uint32_t>(layout::kLapicBase);

  std::vector<uint8_t> table;
  Append(table, hdr);
  table.insert(table.end(), entries.begin(), entries.end());
  table[offsetof(MpConfigHeader, checksum)] = Checksum(table.data(), table.size());

  MpFloatingPointer fp{};
  std::memcpy(fp.signature, "_MP_", 4);
  fp.physptr = static_cast<uint32_t>(layout::kMpTable + sizeof(fp));
  fp.length = 1;
  fp.spec_rev = 4;
  fp.checksum = Checksum(reinterpret_cast<const uint8_t*>(&fp), sizeof(fp));

  absl::Status s = mem.WriteObject(layout::kMpTable, fp);
  if (!s.ok()) return s;
  return mem.Write(fp.physptr, table);
}

}  // namespace tlbscope
