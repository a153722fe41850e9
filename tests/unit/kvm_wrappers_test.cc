// The paired ioctl helpers and RAII wrappers, without KVM.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <unistd.h>

#include "base/unique_fd.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/system.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

TEST(IoctlTest, ErrorNamesTheIoctlAndErrno) {
  absl::StatusOr<int> r = KVM_IOCTL(-1, KVM_GET_API_VERSION, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "KVM_GET_API_VERSION failed: Bad file descriptor (errno 9)");
  EXPECT_NE(r.status().code(), absl::StatusCode::kInvalidArgument) << "kept for bad input";
  IoctlResult raw = TryIoctl(-1, KVM_GET_API_VERSION, 0);
  EXPECT_EQ(raw.ret, -1);
  EXPECT_EQ(raw.err, EBADF);
}

TEST(KvmSystemTest, MissingDeviceIsNamed) {
  absl::StatusOr<KvmSystem> s = KvmSystem::Open("/nonexistent/kvm");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("open /nonexistent/kvm failed: No such file"));
}

TEST(UniqueFdTest, ClosesAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.ok());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "closed when the owner went away";
}

TEST(GuestMemoryTest, BoundsAreChecked) {
  GuestMemory mem = *GuestMemory::Create(1 << 20);
  EXPECT_TRUE(mem.WriteObject<uint32_t>(0xffffc, 7).ok());
  absl::Status s = mem.WriteObject<uint64_t>(0xffffc, 7);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("[0xffffc, 0x100004) is outside guest memory (0x100000"));
  EXPECT_FALSE(mem.Ptr(UINT64_MAX, 2).ok()) << "no wrap-around";
  EXPECT_EQ(*mem.ReadObject<uint32_t>(0xffffc), 7u);
}

}  // namespace
}  // namespace tlbscope
