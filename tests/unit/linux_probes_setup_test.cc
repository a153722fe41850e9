// CreateLinuxProbes on bad or incomplete input, no KVM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_bytes.h"
#include "vmm/linux/linux_probes.h"
#include "vmm/linux/skip_emulation.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {
namespace {

// The rule: knowledge that is incomplete, or a source that cannot
// be read, is one line naming it, and no probes (the run goes on).
TEST(CreateLinuxProbesTest, IncompleteKnowledgeIsOneLineNamingWhatIsMissing) {
  std::vector<uint8_t> elf =
      *ReadFileBytes(std::string(TEST_KERNELS_DIR) + "/linux_probe_fns.elf", "test");
  GuestMemory mem = *GuestMemory::Create(4 << 20);
  ProbePoints points(&mem);
  std::string why;
  // Symbols but no BTF or DWARF.
  EXPECT_EQ(CreateLinuxProbes({}, elf, &mem, &points, 1, &why), nullptr);
  EXPECT_THAT(why, ::testing::StartsWith("kernel knowledge: missing"));
  EXPECT_THAT(why, ::testing::HasSubstr("struct layouts"));
  EXPECT_EQ(why.find('\n'), std::string::npos);
  EXPECT_EQ(points.size(), 0u);
  why.clear();
  EXPECT_EQ(CreateLinuxProbes({"/nonexistent/System.map", ""}, elf, &mem, &points, 1, &why),
            nullptr);
  EXPECT_THAT(why, ::testing::HasSubstr("/nonexistent/System.map"));
  why.clear();
  std::vector<uint8_t> not_elf = {'n', 'o', 't', ' ', 'e', 'l', 'f'};
  EXPECT_EQ(CreateLinuxProbes({}, not_elf, &mem, &points, 1, &why), nullptr);
  EXPECT_THAT(why, ::testing::StartsWith("kernel knowledge: "));
}

// The probes' int3s: counted per address, the original byte back with the
// last Remove, a lifted int3 not rewritten once removed, and never over an
// int3 that is not ours.
TEST(ProbePointsTest, CountsLiftsAndRefusals) {
  GuestMemory mem = *GuestMemory::Create(1 << 20);
  ASSERT_TRUE(mem.WriteObject<uint8_t>(0x1000, 0x55).ok());
  ASSERT_TRUE(mem.WriteObject<uint8_t>(0x2000, 0xcc).ok());
  ProbePoints p(&mem);
  auto byte = [&](uint64_t gpa) { return *mem.ReadObject<uint8_t>(gpa); };
  ASSERT_TRUE(p.Place(0xa000, 0x1000).ok());
  ASSERT_TRUE(p.Place(0xa000, 0x1000).ok());  // a second vCPU waits there too
  EXPECT_EQ(byte(0x1000), 0xcc);
  EXPECT_EQ(p.placed_total(), 1u);
  p.Remove(0xa000);
  EXPECT_EQ(byte(0x1000), 0xcc);
  EXPECT_TRUE(p.Contains(0xa000));
  ASSERT_TRUE(p.Lift(0xa000).ok());
  EXPECT_EQ(byte(0x1000), 0x55);
  EXPECT_TRUE(p.WasOursAndIsGone(0xa000));  // lifted: a hit now runs the original
  ASSERT_TRUE(p.Rearm(0xa000).ok());
  EXPECT_EQ(byte(0x1000), 0xcc);
  ASSERT_TRUE(p.Lift(0xa000).ok());
  p.Remove(0xa000);  // the last one, while lifted
  ASSERT_TRUE(p.Rearm(0xa000).ok());
  EXPECT_EQ(byte(0x1000), 0x55);
  EXPECT_FALSE(p.Contains(0xa000));
  EXPECT_TRUE(p.WasOursAndIsGone(0xa000));
  EXPECT_FALSE(p.WasOursAndIsGone(0xb000));  // never ours: the guest's own int3
  EXPECT_FALSE(p.Place(0xb000, 0x2000).ok());
  EXPECT_EQ(byte(0x2000), 0xcc);
  EXPECT_THAT(std::string(p.Place(0xc000, 1 << 20).message()),
              ::testing::HasSubstr("outside guest memory"));
  EXPECT_EQ(p.size(), 0u);
}

// A push whose stack slot does not translate (paging on, no tables):
// nothing changes, the caller steps.
TEST(EmulateSkipTest, AnUntranslatableStackChangesNothing) {
  GuestMemory mem = *GuestMemory::Create(1 << 20);
  kvm_regs r{};
  r.rsp = 0x1000;
  r.rip = 7;
  introspect::EntryPlan push;
  push.skip = introspect::EntryPlan::Skip::kEmulatePush;
  push.length = 1;
  PagingMode mode{(1ull << 31) | 1, 0x10000, 1 << 5, (1 << 8) | (1 << 10)};  // empty PML4
  EXPECT_FALSE(EmulateSkip(push, r, mem, mode).ok());
  EXPECT_EQ(r.rsp, 0x1000u);
  EXPECT_EQ(r.rip, 7u);
  EXPECT_EQ(RegisterByNumber(r, 4), 0x1000u);  // rsp is register 4
  introspect::EntryPlan step;                  // kStep: not emulated
  EXPECT_FALSE(EmulateSkip(step, r, mem, mode).ok());
  EXPECT_EQ(r.rip, 7u);
}

// When a run gets probes: only a Linux kernel, only with the trap engine
// and an int3 the host traps; otherwise one note saying why, no probes.
TEST(CreateProbesTest, EachReasonToRunWithoutProbesIsANote) {
  std::vector<uint8_t> elf =
      *ReadFileBytes(std::string(TEST_KERNELS_DIR) + "/linux_probe_fns.elf", "test");
  LoadedGuest guest{*GuestMemory::Create(4 << 20), elf, LoadedKernel{}, false};
  guest.kernel.protocol = BootProtocol::kPvh;
  guest.kernel.is_linux = true;
  HostCaps caps;
  caps.hw_breakpoints = 4;
  caps.hw_breakpoint_fires = true;
  caps.single_step_works = true;
  caps.cap_guest_debug = true;
  caps.int3_emulation_failure = true;
  TrapEngine engine(caps, {}, &guest.mem, 1);
  MachineConfig config;
  auto note = [&](const MachineConfig& c, TrapEngine* e) {
    ProbeSummary s;
    EXPECT_EQ(CreateProbes(c, guest, e, s), nullptr);
    EXPECT_FALSE(s.enabled);
    return s.note;
  };
  // Knowledge: symbols, but no layouts in this ELF.
  EXPECT_THAT(note(config, &engine), ::testing::StartsWith("kernel knowledge: missing"));
  EXPECT_THAT(note(config, nullptr), ::testing::HasSubstr("--no-trap"));
  MachineConfig hw = config;
  hw.breakpoints = BreakpointPolicy::kHardwareOnly;
  EXPECT_THAT(note(hw, &engine), ::testing::HasSubstr("--breakpoints hw"));
  MachineConfig off = config;
  off.linux_probes = false;
  EXPECT_EQ(note(off, &engine), "");
  guest.kernel.protocol = BootProtocol::kLinux;
  EXPECT_THAT(note(config, &engine), ::testing::HasSubstr("--boot linux"));
  guest.kernel.protocol = BootProtocol::kPvh;
  caps.int3_emulation_failure = false;
  TrapEngine no_int3(caps, {}, &guest.mem, 1);
  EXPECT_THAT(note(config, &no_int3), ::testing::HasSubstr("cannot trap an int3"));
  guest.kernel.is_linux = false;
  EXPECT_EQ(note(config, &engine), "");  // not Linux: nothing to say
  EXPECT_EQ(engine.probe_points().size(), 0u);
}

}  // namespace
}  // namespace tlbscope
