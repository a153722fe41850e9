// Hostile input without KVM: names that become files, the output-file
// policy, bounded reads of input files, regress run folders.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/bounded_read.h"
#include "common/file_names.h"
#include "common/output_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "regress/runner.h"
#include "regress/suite.h"
#include "vmm/devices/serial.h"
#include "vmm/rpc/server.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trap_log.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/hostile_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
           std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(FileNameTest, OneComponentOnly) {
  EXPECT_TRUE(CheckFileName("lazy-free-smp4", "run name").ok());
  EXPECT_TRUE(CheckFileName("a.b", "run name").ok());
  EXPECT_TRUE(CheckFileName("..x", "run name").ok());
  struct {
    std::string name, why;
  } bad[] = {{"", "is empty"},
             {".", "not a usable file name"},
             {"..", "not a usable file name"},
             {"../../x", "contains '/'"},
             {"a/b", "contains '/'"},
             {"/etc", "contains '/'"},
             {"a\nb", "control character"},
             {std::string("a\0b", 3), "control character"},
             {"a\x7f", "control character"},
             {std::string(129, 'x'), "longer than 128 bytes"}};
  for (const auto& b : bad) {
    absl::Status s = CheckFileName(b.name, "run name");
    ASSERT_FALSE(s.ok()) << b.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(b.why)) << b.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("run name '"));
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << "one line";
  }
}

TEST_F(HostileTest, InsideMeansStrictlyBelowEvenThroughSymlinks) {
  std::filesystem::create_directories(dir_ + "/out/a");
  EXPECT_TRUE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/a"));
  EXPECT_TRUE(IsStrictlyInside(dir_ + "/out/", dir_ + "/out/new"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/."));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/.."));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/../../x"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/outer"));
  std::filesystem::create_directory_symlink(dir_, dir_ + "/out/up");
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/up"));
}

TEST(SuiteNamesTest, NamesThatAreNotOneFileNameRefuseTheSuite) {
  for (const char* name : {"..", "../../x", "a/b", ".", "a\\u0001b"}) {
    std::string text = absl::StrCat("[[run]]\nname = \"", name, "\"\nexpect = \"clean\"\n");
    absl::StatusOr<regress::Suite> s = regress::ParseSuite(text, "s.toml");
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("suite s.toml:1: run name '")) << name;
  }
}

// A suite that bypassed ParseSuite (a caller building runs itself) still
// cannot make the runner remove anything outside --out.
TEST_F(HostileTest, TheRunnerNeverRemovesOutsideOut) {
  std::ofstream(dir_ + "/precious") << "keep me\n";
  std::filesystem::create_directories(dir_ + "/out");
  regress::Suite suite;
  for (const char* name : {"..", "../../x", "a/b", "."}) {
    regress::RunSpec r;
    r.name = name;
    r.timeout_s = 5;
    suite.runs.push_back(r);
  }
  regress::RunnerOptions o;
  o.out_dir = dir_ + "/out";
  o.progress = false;
  o.tlbscope = "/bin/true";
  std::vector<regress::RunVerdict> v = regress::RunSuite(suite, o);
  ASSERT_EQ(v.size(), 4u);
  for (const regress::RunVerdict& one : v) {
    EXPECT_FALSE(one.passed) << one.spec.name;
    EXPECT_THAT(one.reason, HasSubstr("run name '")) << one.spec.name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/precious"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/a"));
}

TEST_F(HostileTest, OutputsAreRegularFilesOrNothingYet) {
  std::string file = dir_ + "/f", link = dir_ + "/l", fifo = dir_ + "/p";
  EXPECT_TRUE(CheckOutputPath("--json", dir_ + "/new").ok());
  std::ofstream(file) << "precious\n";
  EXPECT_TRUE(CheckOutputPath("--json", file).ok());
  ASSERT_EQ(::symlink(file.c_str(), link.c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  struct {
    std::string path, what;
  } refused[] = {{"/dev/full", "is a character device"},
                 {link, "is a symlink"},
                 {dir_, "is a directory"},
                 {fifo, "is a FIFO"},
                 {"/proc/no/such/x", "No such file or directory"}};
  for (const auto& r : refused) {
    absl::Status s = CheckOutputPath("--json", r.path);
    ASSERT_FALSE(s.ok()) << r.path;
    EXPECT_THAT(std::string(s.message()), HasSubstr("--json " + r.path + ": " + r.what));
    s = WriteFileAtomically("--json", r.path, "{}\n");
    EXPECT_FALSE(s.ok()) << r.path;
  }
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the symlink is still a symlink";
  ASSERT_EQ(::lstat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious\n");
  ASSERT_TRUE(WriteFileAtomically("--json", file, "{}\n").ok());
  std::ifstream again(file);
  std::string now((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(now, "{}\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 3)
      << "no temporary file left behind";
}

// A file-size limit makes every write past 4 KiB fail (EFBIG), as a full
// disk would: each stream output says so instead of passing silently.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_sig_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit l = old_;
    l.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &l);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_sig_);
  }

 private:
  rlimit old_;
  sighandler_t old_sig_;
};

TEST_F(HostileTest, StreamOutputsReportAFailedWrite) {
  std::string big(64 * 1024, 'x');
  {
    absl::StatusOr<std::unique_ptr<SerialSink>> serial = SerialSink::Create(false, dir_ + "/s");
    ASSERT_TRUE(serial.ok());
    FileSizeLimit limit(4096);
    for (char c : big) (*serial)->Put(static_cast<uint8_t>(c));
    (*serial)->Flush();
    EXPECT_FALSE((*serial)->log_ok());
  }
  {
    absl::StatusOr<std::unique_ptr<Recorder>> rec =
        Recorder::Create(dir_ + "/t", v1::TraceHeader());
    ASSERT_TRUE(rec.ok());
    FileSizeLimit limit(4096);
    std::vector<v1::Event> events(1);
    events[0].mutable_guest_log()->set_text(big);
    (*rec)->OnEvents(events);
    (*rec)->OnEnd(v1::TraceEnd());
    EXPECT_FALSE((*rec)->ok());
    EXPECT_THAT(std::string((*rec)->status().message()),
                HasSubstr("--record " + dir_ + "/t: write failed: File too large"));
  }
  {
    absl::StatusOr<std::unique_ptr<TrapLogWriter>> log = TrapLogWriter::Create(dir_ + "/l");
    ASSERT_TRUE(log.ok());
    FileSizeLimit limit(4096);
    std::vector<v1::Event> events(4000);
    for (v1::Event& e : events) e.mutable_invlpg()->set_linear_address(0x1000);
    (*log)->OnEvents(events);
    (*log)->OnEnd(v1::TraceEnd());
    EXPECT_FALSE((*log)->ok());
  }
  // And each refuses a device or a symlink up front.
  EXPECT_THAT(std::string(SerialSink::Create(false, "/dev/full").status().message()),
              HasSubstr("--serial-log /dev/full: is a character device"));
  EXPECT_THAT(std::string(Recorder::Create("/dev/full", v1::TraceHeader()).status().message()),
              HasSubstr("--record /dev/full: is a character device"));
  EXPECT_THAT(std::string(TrapLogWriter::Create("/dev/full").status().message()),
              HasSubstr("--trap-log /dev/full: is a character device"));
  ASSERT_EQ(symlink((dir_ + "/s").c_str(), (dir_ + "/link").c_str()), 0);
  EXPECT_THAT(std::string(Recorder::Create(dir_ + "/link", v1::TraceHeader()).status().message()),
              HasSubstr("--record " + dir_ + "/link: is a symlink"));
}

TEST(BoundedReadTest, EndlessAndHugeInputsAreRefused) {
  absl::StatusOr<std::string> t = ReadTokenFile("--token-file", "/dev/zero");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "--token-file /dev/zero: larger than 4096 bytes");
  absl::StatusOr<std::string> b = ReadBoundedFile("--tls-cert", "/dev/zero", kMaxSmallFileBytes);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("larger than 65536 bytes"));
  ServeOptions o;
  o.listen = "127.0.0.1:0";
  o.token_file = "/dev/zero";
  absl::StatusOr<std::string> s = LoadServeSecrets(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("--token-file /dev/zero: larger than"));
  t = ReadTokenFile("--token-file", "/nonexistent/token");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("No such file or directory"));
}

TEST_F(HostileTest, ATokenIsOneLineOfPrintableAscii) {
  std::string p = dir_ + "/token";
  std::ofstream(p) << "  s3cret-token\n";
  absl::StatusOr<std::string> t = ReadTokenFile("--token-file", p);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "s3cret-token");
  std::ofstream(p) << "two\nlines\n";
  EXPECT_THAT(std::string(ReadTokenFile("--token-file", p).status().message()),
              HasSubstr("one line of printable ASCII"));
  std::ofstream(p) << "\n\n";
  EXPECT_EQ(ReadTokenFile("--token-file", p).status().message(), "--token-file " + p + " is empty");
}

}  // namespace
}  // namespace tlbscope
