// ACPI tables (ACPI 6.x spec, chapter 5.2), laid out the way Firecracker and
// cloud-hypervisor give them to a direct-boot Linux guest: hardware-reduced
// (no PM timer, SCI or legacy PIC wiring in the FADT), an empty DSDT, and a
// MADT that enumerates the CPUs and the IOAPIC.

#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

constexpr char kOemId[7] = "TLBSCP";
constexpr char kOemTableId[9] = "TLBSCOPE";
constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
constexpr uint32_t kFadtPwrButton = 1u << 4, kFadtSlpButton = 1u << 5;
constexpr uint16_t kIapcVgaNotPresent = 1u << 2, kIapcMsiNotSupported = 1u << 3;
constexpr uint32_t kMadtPcatCompat = 1;

// Table bytes under construction, little-endian.
class Table {
 public:
  explicit Table(const char sig[4], uint8_t revision) {
    bytes_.resize(36, 0);
    std::memcpy(bytes_.data(), sig, 4);
    bytes_[8] = revision;
    std::memcpy(bytes_.data() + 10, kOemId, 6);
    std::memcpy(bytes_.data() + 16, kOemTableId, 8);
    Put32At(24, 1);  // OEM revision
    std::memcpy(bytes_.data() + 28, "TLBS", 4);
    Put32At(32, 1);  // creator revision
  }
  void Resize(size_t n) { bytes_.resize(n, 0); }
  void Put8(uint8_t v) { bytes_.push_back(v); }
  void Put16(uint16_t v) { Append(&v, 2); }
  void Put32(uint32_t v) { Append(&v, 4); }
  void Put64(uint64_t v) { Append(&v, 8); }
  void Put8At(size_t off, uint8_t v) { bytes_[off] = v; }
  void Put16At(size_t off, uint16_t v) { std::memcpy(bytes_.data() + off, &v, 2); }
  void Put32At(size_t off, uint32_t v) { std::memcpy(bytes_.data() + off, &v, 4); }
  void Put64At(size_t off, uint64_t v) { std::memcpy(bytes_.data() + off, &v, 8); }
  // Fills in the length and checksum.
  const std::vector<uint8_t>& Finish() {
    Put32At(4, static_cast<uint32_t>(bytes_.size()));
    bytes_[9] = 0;
    uint8_t sum = 0;
    for (uint8_t b : bytes_) sum += b;
    bytes_[9] = static_cast<uint8_t>(-sum);
    return bytes_;
  }

 private:
  void Append(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<uint8_t> bytes_;
};

uint8_t Checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i];
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> Madt(int num_cpus) {
  Table t("APIC", 5);
  t.Put32(static_cast<uint32_t>(layout::kLapicBase));
  t.Put32(kMadtPcatCompat);
  for (int i = 0; i < num_cpus; ++i) {  // Processor Local APIC
    t.Put8(0);
    t.Put8(8);
    t.Put8(static_cast<uint8_t>(i));  // ACPI processor UID
    t.Put8(static_cast<uint8_t>(i));  // APIC id
    t.Put32(1);                       // enabled
  }
  t.Put8(1);  // I/O APIC: id after the CPUs, as in the MP table, GSI base 0
  t.Put8(12);
  t.Put8(static_cast<uint8_t>(num_cpus));
  t.Put8(0);
  t.Put32(static_cast<uint32_t>(layout::kIoapicBase));
  t.Put32(0);
  // KVM's default routing sends ISA IRQ n to IOAPIC pin n (the PIT too), so
  // no interrupt source overrides. LINT1 of every CPU is NMI.
  t.Put8(4);
  t.Put8(6);
  t.Put8(0xff);
  t.Put16(0);
  t.Put8(1);
  return t.Finish();
}

std::vector<uint8_t> Fadt(uint64_t dsdt) {
  Table t("FACP", 6);
  t.Resize(276);
  t.Put32At(40, static_cast<uint32_t>(dsdt));
  t.Put16At(109, kIapcVgaNotPresent | kIapcMsiNotSupported);
  t.Put32At(112, kFadtHwReducedAcpi | kFadtPwrButton | kFadtSlpButton);
  t.Put8At(131, 3);  // FADT minor version (6.3)
  t.Put64At(140, dsdt);
  uint64_t vendor;
  std::memcpy(&vendor, "TLBSCOPE", 8);
  t.Put64At(268, vendor);  // hypervisor vendor identity
  return t.Finish();
}

}  // namespace

absl::Status WriteAcpiTables(GuestMemory& mem, int num_cpus) {
  // RSDP (36 bytes), then each table 16-byte aligned.
  uint64_t at = layout::kAcpi + 64;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> tables;
  auto place = [&](std::vector<uint8_t> bytes) {
    uint64_t addr = at;
    at = (at + bytes.size() + 15) & ~15ull;
    tables.emplace_back(addr, std::move(bytes));
    return addr;
  };
  Table dsdt_t("DSDT", 2);
  uint64_t dsdt = place(dsdt_t.Finish());
  uint64_t fadt = place(Fadt(dsdt));
  uint64_t madt = place(Madt(num_cpus));
  Table xsdt_t("XSDT", 1);
  xsdt_t.Put64(fadt);
  xsdt_t.Put64(madt);
  uint64_t xsdt = place(xsdt_t.Finish());
  if (at > layout::kAcpiEnd) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ACPI tables for %d CPUs do not fit below %#x", num_cpus, layout::kAcpiEnd));
  }
  uint8_t rsdp[36] = {};
  std::memcpy(rsdp, "RSD PTR ", 8);
  std::memcpy(rsdp + 9, kOemId, 6);
  rsdp[15] = 2;  // ACPI 2.0+: the XSDT
  uint32_t len = sizeof(rsdp);
  std::memcpy(rsdp + 20, &len, 4);
  std::memcpy(rsdp + 24, &xsdt, 8);
  rsdp[8] = Checksum(rsdp, 20);
  rsdp[32] = Checksum(rsdp, 36);
  absl::Status s = mem.Fill(layout::kAcpi, layout::kAcpiEnd - layout::kAcpi, 0);
  if (s.ok()) s = mem.Write(layout::kAcpi, rsdp);
  for (const auto& [addr, bytes] : tables) {
    if (s.ok()) s = mem.Write(addr, bytes);
  }
  return s;
}

}  // namespace tlbscope
