// Linux boot pieces without KVM, on handmade bytes: the bzImage setup
// header, payload decompression, the zero page, the initrd, ACPI tables,
// the serial interrupt, legacy ports and emulation-failure decoding.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "tests/common/synthetic_bzimage.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/boot/elf_file.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/layout.h"
#include "vmm/devices/legacy_ports.h"
#include "vmm/devices/serial.h"
#include "vmm/trap/emulation_fixups.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {
namespace {

using testing::BzImageSpec;
using testing::CompressLikeLinux;
using ::testing::HasSubstr;
using testing::MakeBzImage;
using ::testing::StartsWith;

std::vector<uint8_t> HelloElf() {
  return testing::ReadAll(std::string(TEST_KERNELS_DIR) + "/pvh_hello.elf");
}

class LinuxBootTest : public ::testing::Test {
 protected:
  void SetUp() override { mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(64 << 20)); }
  absl::StatusOr<LoadedKernel> Load(const std::vector<uint8_t>& bytes,
                                    BootProtocol p = BootProtocol::kAuto,
                                    const std::vector<uint8_t>& initrd = {}) {
    return LoadKernelBytes(bytes, "bz", p, "console=ttyS0", *mem_, InitrdFile{initrd, "rd.img"});
  }
  // The one-line error for `bytes`, which must start "kernel bz: ".
  std::string Error(const std::vector<uint8_t>& bytes, BootProtocol p = BootProtocol::kAuto) {
    absl::StatusOr<LoadedKernel> k = Load(bytes, p);
    EXPECT_FALSE(k.ok());
    if (k.ok()) return "";
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    std::string msg(k.status().message());
    EXPECT_THAT(msg, StartsWith("kernel bz"));
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    return msg;
  }
  std::unique_ptr<GuestMemory> mem_;
};

class PayloadFormatTest : public LinuxBootTest,
                          public ::testing::WithParamInterface<Compression> {};

TEST_P(PayloadFormatTest, VmlinuxFromThePayloadBootsThroughPvh) {
  std::vector<uint8_t> elf = HelloElf();
  ASSERT_FALSE(elf.empty());
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(GetParam(), elf));
  ASSERT_TRUE(HasBzImageMagic(bz));
  absl::StatusOr<LoadedKernel> k = Load(bz);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kPvh);
  EXPECT_EQ(k->vmlinux, elf);
  absl::StatusOr<ElfFile> parsed = ParseElf(elf, "hello");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(k->entry, *parsed->pvh_entry);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(layout::kBootInfo), 0x336ec578u);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(layout::kBootInfo + 32), layout::kAcpi);  // rsdp_paddr
}

TEST_P(PayloadFormatTest, CorruptPayloadIsNamed) {
  std::vector<uint8_t> payload = CompressLikeLinux(GetParam(), HelloElf());
  for (size_t i = payload.size() / 4; i < payload.size() / 2; ++i) payload[i] ^= 0x5a;
  std::string msg = Error(MakeBzImage({}, payload));
  EXPECT_THAT(msg, HasSubstr(std::string(CompressionName(GetParam())) + " payload at file offset"));
}

TEST_P(PayloadFormatTest, TruncatedPayloadIsAnError) {
  std::vector<uint8_t> payload = CompressLikeLinux(GetParam(), HelloElf());
  payload.resize(payload.size() / 2);
  EXPECT_THAT(Error(MakeBzImage({}, payload)), HasSubstr("payload at file offset"));
}

INSTANTIATE_TEST_SUITE_P(Formats, PayloadFormatTest,
                         ::testing::Values(Compression::kGzip, Compression::kXz,
                                           Compression::kLz4Legacy, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST_F(LinuxBootTest, UncompressedPayloadToo) {
  absl::StatusOr<LoadedKernel> k = Load(MakeBzImage({}, HelloElf()));
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kPvh);
}

TEST_F(LinuxBootTest, BadSetupHeaderFieldsAreNamed) {
  std::vector<uint8_t> payload = CompressLikeLinux(Compression::kGzip, HelloElf());
  BzImageSpec magic;
  magic.header = 0x12345678;
  EXPECT_THAT(Error(MakeBzImage(magic, payload)), HasSubstr("magic at 0x202"));
  BzImageSpec old;
  old.version = 0x0204;
  EXPECT_THAT(Error(MakeBzImage(old, payload)),
              HasSubstr("boot protocol 2.04 at 0x206 is too old"));
  BzImageSpec zimage;
  zimage.loadflags = 0;
  EXPECT_THAT(Error(MakeBzImage(zimage, payload)), HasSubstr("LOADED_HIGH"));
  BzImageSpec bits32;
  bits32.xloadflags = 0;
  EXPECT_THAT(Error(MakeBzImage(bits32, payload)), HasSubstr("not a 64-bit kernel"));
  BzImageSpec long_payload;
  long_payload.payload_length = 1 << 30;
  EXPECT_THAT(Error(MakeBzImage(long_payload, payload)), HasSubstr("payload_length at 0x24c"));
}

TEST_F(LinuxBootTest, TruncatedBzImage) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kGzip, HelloElf()));
  bz.resize(0x900);  // inside the setup code (setup_sects 4: kernel at 0xa00)
  EXPECT_THAT(Error(bz), HasSubstr("truncated bzImage"));
  bz.resize(0x220);
  EXPECT_THAT(Error(bz), HasSubstr("truncated bzImage"));
}

TEST_F(LinuxBootTest, UnsupportedAndUnknownPayloads) {
  std::vector<uint8_t> bzip2 = {'B', 'Z', 'h', '9', 1, 2, 3, 4};
  EXPECT_THAT(Error(MakeBzImage({}, bzip2)), HasSubstr("bzip2 payloads are not supported"));
  std::vector<uint8_t> junk(64, 0x42);
  EXPECT_THAT(Error(MakeBzImage({}, junk)), HasSubstr("unknown payloads are not supported"));
  std::vector<uint8_t> not_elf(64, 0x42);
  EXPECT_THAT(Error(MakeBzImage({}, CompressLikeLinux(Compression::kZstd, not_elf))),
              HasSubstr("does not hold an ELF vmlinux"));
}

TEST_F(LinuxBootTest, BootProtocolWritesTheZeroPage) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kLz4Legacy, HelloElf()));
  std::vector<uint8_t> initrd(10000, 0xab);
  absl::StatusOr<LoadedKernel> k = Load(bz, BootProtocol::kLinux, initrd);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kLinux);
  EXPECT_EQ(k->entry, 0x100000u);  // code32_start
  EXPECT_EQ(k->esi, layout::kZeroPage);
  const uint64_t zp = layout::kZeroPage;
  // The protected-mode code at code32_start: the spec's 0x90 filler.
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(0x100000), 0x90);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(zp + 0x202), 0x53726448u);  // header copied
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(zp + zero_page::kTypeOfLoader), 0xff);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(zp + zero_page::kCmdLinePtr), layout::kCmdline);
  EXPECT_STREQ(reinterpret_cast<const char*>(*mem_->Ptr(layout::kCmdline, 14)), "console=ttyS0");
  ASSERT_TRUE(k->initrd.has_value());
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(zp + zero_page::kRamdiskImage), k->initrd->addr);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(zp + zero_page::kRamdiskSize), 10000u);
  EXPECT_EQ(k->initrd->addr % 4096, 0u);
  EXPECT_LE(k->initrd->addr + 10000, mem_->size());
  EXPECT_GE(k->initrd->addr, 0x1000000u + 0x100000u);  // above pref_address + init_size
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(k->initrd->addr), 0xab);
  // E820: low RAM, the BIOS hole, RAM from 1 MiB to the top.
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(zp + zero_page::kE820Entries), 3);
  uint64_t top_addr = *mem_->ReadObject<uint64_t>(zp + zero_page::kE820Table + 2 * 20);
  uint64_t top_size = *mem_->ReadObject<uint64_t>(zp + zero_page::kE820Table + 2 * 20 + 8);
  EXPECT_EQ(top_addr + top_size, mem_->size());
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(zp + zero_page::kAcpiRsdpAddr), layout::kAcpi);
}

TEST_F(LinuxBootTest, BootProtocolNeedsRoomForTheDecompressedKernel) {
  BzImageSpec big;
  big.init_size = 0x8000000;  // 128 MiB from pref_address, in 64 MiB
  std::string msg = Error(MakeBzImage(big, CompressLikeLinux(Compression::kGzip, HelloElf())),
                          BootProtocol::kLinux);
  EXPECT_THAT(msg, HasSubstr("raise --mem"));
}

TEST_F(LinuxBootTest, PvhInitrdIsModuleZero) {
  std::vector<uint8_t> initrd(5000, 0xcd);
  absl::StatusOr<LoadedKernel> k = Load(HelloElf(), BootProtocol::kAuto, initrd);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_TRUE(k->initrd.has_value());
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(layout::kBootInfo + 12), 1u);  // nr_modules
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(layout::kBootInfo + 16), layout::kModlist);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(layout::kModlist), k->initrd->addr);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(layout::kModlist + 8), 5000u);
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(k->initrd->addr + 4999), 0xcd);
}

TEST_F(LinuxBootTest, InitrdTooBig) {
  std::vector<uint8_t> initrd(70 << 20, 1);
  absl::StatusOr<LoadedKernel> k = Load(HelloElf(), BootProtocol::kAuto, initrd);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("initrd rd.img: too big"));
  EXPECT_THAT(k.status().message(), HasSubstr("raise --mem"));
}

TEST_F(LinuxBootTest, InitrdNeedsALinuxProtocol) {
  const std::vector<uint8_t> initrd = {1, 2, 3};
  absl::StatusOr<LoadedKernel> k =
      LoadKernel(std::string(TEST_KERNELS_DIR) + "/mb_elf32.elf32", BootProtocol::kAuto, "", *mem_,
                 InitrdFile{initrd, "rd.img"});
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("--initrd needs a Linux kernel"));
}

uint8_t Sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

TEST(AcpiTest, RsdpXsdtAndMadtWithEveryCpu) {
  GuestMemory mem = *GuestMemory::Create(4 << 20);
  ASSERT_TRUE(WriteAcpiTables(mem, 3).ok());
  const uint8_t* rsdp = *mem.Ptr(layout::kAcpi, 36);
  EXPECT_EQ(std::memcmp(rsdp, "RSD PTR ", 8), 0);
  EXPECT_EQ(Sum(rsdp, 20), 0);
  EXPECT_EQ(Sum(rsdp, 36), 0);
  uint64_t xsdt;
  std::memcpy(&xsdt, rsdp + 24, 8);
  const uint8_t* x = *mem.Ptr(xsdt, 36);
  ASSERT_EQ(std::memcmp(x, "XSDT", 4), 0);
  uint32_t xlen;
  std::memcpy(&xlen, x + 4, 4);
  EXPECT_EQ(Sum(*mem.Ptr(xsdt, xlen), xlen), 0);
  bool madt_found = false, fadt_found = false;
  for (uint32_t off = 36; off < xlen; off += 8) {
    uint64_t t;
    std::memcpy(&t, *mem.Ptr(xsdt + off, 8), 8);
    const uint8_t* h = *mem.Ptr(t, 36);
    uint32_t len;
    std::memcpy(&len, h + 4, 4);
    const uint8_t* table = *mem.Ptr(t, len);
    EXPECT_EQ(Sum(table, len), 0) << std::string(reinterpret_cast<const char*>(h), 4);
    if (std::memcmp(h, "FACP", 4) == 0) {
      fadt_found = true;
      EXPECT_EQ(len, 276u);
      uint32_t flags;
      std::memcpy(&flags, table + 112, 4);
      EXPECT_TRUE(flags & (1u << 20));  // hardware-reduced
    }
    if (std::memcmp(h, "APIC", 4) != 0) continue;
    madt_found = true;
    int lapics = 0, ioapics = 0;
    for (uint32_t e = 44; e < len; e += table[e + 1]) {
      if (table[e] == 0) {
        EXPECT_EQ(table[e + 3], lapics);  // APIC id
        ++lapics;
      }
      if (table[e] == 1) ++ioapics;
      ASSERT_GT(table[e + 1], 0);
    }
    EXPECT_EQ(lapics, 3);
    EXPECT_EQ(ioapics, 1);
  }
  EXPECT_TRUE(madt_found);
  EXPECT_TRUE(fadt_found);
}

TEST(SerialIrqTest, TransmitterEmptyInterruptAsADriverSeesIt) {
  auto sink = *SerialSink::Create(false, "");
  std::vector<bool> edges;
  Serial16550 s(0x3f8, sink.get(), [&](bool level) { edges.push_back(level); });
  auto rd = [&](uint16_t port) {
    uint8_t v = 0;
    EXPECT_FALSE(s.Read(0, port, {&v, 1}));
    return v;
  };
  auto wr = [&](uint16_t port, uint8_t v) { EXPECT_FALSE(s.Write(0, port, {&v, 1})); };
  EXPECT_EQ(rd(0x3fa) & 0x0f, 0x01);  // no interrupt
  wr(0x3f9, 0x02);                    // IER: THRI
  EXPECT_EQ(edges, std::vector<bool>({true}));
  EXPECT_EQ(rd(0x3fa) & 0x0f, 0x02);  // THRE, and reading acknowledges it
  EXPECT_EQ(edges, std::vector<bool>({true, false}));
  EXPECT_EQ(rd(0x3fa) & 0x0f, 0x01);
  wr(0x3f8, 'x');  // sent at once: THR empty again, a new edge
  EXPECT_EQ(edges, std::vector<bool>({true, false, true}));
  wr(0x3f9, 0x00);  // masked
  EXPECT_EQ(edges.back(), false);
  EXPECT_EQ(sink->transcript(), "x");
}

TEST(LegacyPortsTest, OpenBusCmosAndI8042Reset) {
  IoBus bus;
  LinuxLegacyPorts legacy;
  legacy.RegisterOn(bus);
  uint8_t v = 0;
  EXPECT_FALSE(bus.Read(0, 0xcfc, {&v, 1}));
  EXPECT_EQ(v, 0xff);  // no PCI
  uint8_t idx = 0x0a;
  EXPECT_FALSE(bus.Write(0, 0x70, {&idx, 1}));
  EXPECT_FALSE(bus.Read(0, 0x71, {&v, 1}));
  EXPECT_EQ(v & 0x80, 0);  // no update in progress
  EXPECT_FALSE(bus.Read(0, 0x64, {&v, 1}));
  EXPECT_EQ(v, 0);  // buffers empty
  uint8_t reset = 0xfe;
  IoOutcome out = bus.Write(0, 0x64, {&reset, 1});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reason, StopReason::kGuestExit);
  EXPECT_EQ(out->guest_code, 0);
}

}  // namespace
}  // namespace tlbscope

namespace tlbscope {
namespace {

TEST(PtiPatternTest, EntryCr3SwitchesAreRecognisedWithoutSymbols) {
  const std::vector<uint8_t> code = {
      // SWITCH_TO_KERNEL_CR3: mov %cr3,%rsp; and $~0x1800,%rsp; mov %rsp,%cr3
      0x0f, 0x20, 0xdc, 0x48, 0x81, 0xe4, 0xff, 0xe7, 0xff, 0xff, 0x0f, 0x22, 0xdc,
      // SWITCH_TO_USER_CR3: bts $63,%rdi; or $0x800,%rdi; or $0x1000,%rdi; mov %rdi,%cr3
      0x48, 0x0f, 0xba, 0xef, 0x3f, 0x48, 0x81, 0xcf, 0x00, 0x08, 0x00, 0x00, 0x48, 0x81, 0xcf,
      0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xdf,
      // switch_mm-like: mov %rdi,%cr3 with no PTI arithmetic on it
      0x48, 0x89, 0xc7, 0x0f, 0x22, 0xdf,
      // the PTI mask, but on another register
      0x48, 0x81, 0xe1, 0xff, 0xe7, 0xff, 0xff, 0x0f, 0x22, 0xd8};
  ElfFile elf{};
  elf.is_64bit = true;
  elf.sections.push_back({".text", 0xffffffff81000000, 0, code.size(), true, true});
  absl::StatusOr<SiteScan> scan = ScanTlbSites(code, elf);
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->sites.size(), 4u);
  EXPECT_EQ(scan->sites[0].klass, SiteClass::kEntryPti);
  EXPECT_EQ(scan->sites[1].klass, SiteClass::kEntryPti);
  EXPECT_NE(scan->sites[2].klass, SiteClass::kEntryPti);
  EXPECT_NE(scan->sites[3].klass, SiteClass::kEntryPti);
}

TEST(CpuidFilterTest, HidesXsaveAndAvxOnlyWhenCpl0IsEmulated) {
  CpuidTable t;
  t.get()->nent = 4;
  t.get()->entries[3] = {.function = 0x40000001, .eax = 0x01007efb};
  t.get()->entries[0] = {.function = 1, .ecx = 0x7fffffff};
  t.get()->entries[1] = {.function = 7, .ebx = 0xffffffff};
  t.get()->entries[2] = {.function = 0xd, .eax = 0xe7};
  CpuidTable plain = CpuidForVcpu(t, 1, false);
  EXPECT_EQ(plain.Find(1, 0)->ecx, 0xffffffffu);  // + the hypervisor bit, which KVM leaves clear
  EXPECT_EQ(plain.Find(1, 0)->ebx >> 24, 1u);     // APIC id
  // Of KVM's PV features, the clock alone (kvmclock): no PV TLB flush,
  // send-IPI, unhalt, sched-yield, async PF or steal time, on any host.
  EXPECT_EQ(plain.Find(0x40000001, 0)->eax, 0x01000009u);
  CpuidTable f = CpuidForVcpu(t, 1, true);
  EXPECT_EQ(f.Find(1, 0)->ecx & (1u << 26), 0u);  // XSAVE
  EXPECT_EQ(f.Find(1, 0)->ecx & (1u << 28), 0u);  // AVX
  EXPECT_NE(f.Find(1, 0)->ecx & (1u << 13), 0u);  // CX16 stays: the VMM emulates it
  EXPECT_EQ(f.Find(7, 0)->ebx & (1u << 5), 0u);   // AVX2
  EXPECT_EQ(f.Find(0xd, 0)->eax, 0u);
  EXPECT_NE(f.Find(1, 0)->ecx & (1u << 31), 0u);  // hypervisor present, on every host
  EXPECT_EQ(f.Find(0x40000001, 0)->eax, 0x01000009u);
}

}  // namespace
}  // namespace tlbscope
