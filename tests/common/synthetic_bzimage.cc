#include "tests/common/synthetic_bzimage.h"

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "vmm/boot/bzimage_crc.h"

namespace tlbscope::testing {
namespace {

void PutLe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

template <typename T>
void Put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}

}  // namespace

std::vector<uint8_t> CompressLikeLinux(Compression format, const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out;
  switch (format) {
    case Compression::kNone:
      return in;
    case Compression::kGzip: {
      z_stream zs{};
      deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      out.resize(deflateBound(&zs, in.size()) + 64);
      zs.next_in = const_cast<Bytef*>(in.data());
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
      out.resize(zs.total_out);
      deflateEnd(&zs);
      return out;  // gzip carries its own size
    }
    case Compression::kXz: {
      out.resize(lzma_stream_buffer_bound(in.size()));
      size_t pos = 0;
      if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, in.data(), in.size(), out.data(),
                                  &pos, out.size()) != LZMA_OK) {
        throw std::runtime_error("lzma");
      }
      out.resize(pos);
      break;
    }
    case Compression::kLz4Legacy: {
      PutLe32(out, 0x184c2102);
      const size_t kBlock = 8 << 20;
      for (size_t at = 0; at < in.size(); at += kBlock) {
        int n = static_cast<int>(std::min(kBlock, in.size() - at));
        std::vector<char> block(LZ4_compressBound(n));
        int c = LZ4_compress_default(reinterpret_cast<const char*>(in.data() + at), block.data(), n,
                                     static_cast<int>(block.size()));
        PutLe32(out, static_cast<uint32_t>(c));
        out.insert(out.end(), block.begin(), block.begin() + c);
      }
      break;
    }
    case Compression::kZstd: {
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19);
      if (ZSTD_isError(n)) throw std::runtime_error("zstd");
      out.resize(n);
      break;
    }
    default:
      throw std::runtime_error("format");
  }
  PutLe32(out, static_cast<uint32_t>(in.size()));  // size_append
  return out;
}

std::vector<uint8_t> MakeBzImage(const BzImageSpec& s, const std::vector<uint8_t>& payload) {
  size_t setup = (static_cast<size_t>(s.setup_sects) + 1) * 512;
  std::vector<uint8_t> b(setup + s.payload_offset, 0x90);
  std::memset(b.data(), 0, setup);
  b[0x1f1] = s.setup_sects;
  Put<uint16_t>(b, 0x1fe, s.boot_flag);
  b[0x200] = 0xeb;  // jmp over the header to 0x268
  b[0x201] = 0x66;
  Put<uint32_t>(b, 0x202, s.header);
  Put<uint16_t>(b, 0x206, s.version);
  b[0x211] = s.loadflags;
  Put<uint32_t>(b, 0x214, s.code32_start);
  Put<uint32_t>(b, 0x22c, s.initrd_addr_max);
  Put<uint32_t>(b, 0x230, 0x200000);
  b[0x234] = 1;
  Put<uint16_t>(b, 0x236, s.xloadflags);
  Put<uint32_t>(b, 0x238, 2047);
  Put<uint32_t>(b, 0x248, s.payload_offset);
  Put<uint32_t>(b, 0x24c,
                s.payload_length ? s.payload_length : static_cast<uint32_t>(payload.size()));
  Put<uint64_t>(b, 0x258, s.pref_address);
  Put<uint32_t>(b, 0x260, s.init_size);
  b.insert(b.end(), payload.begin(), payload.end());
  b.resize(b.size() + 16, 0);
  // As build.c ends it: padded so that the protected-mode part plus the
  // CRC-32 is syssize * 16 bytes, then the CRC of everything before it.
  while ((b.size() - setup + 4) % 16 != 0) b.push_back(0);
  Put<uint32_t>(b, 0x1f4, static_cast<uint32_t>((b.size() - setup + 4) / 16));
  PutLe32(b, BzImageCrc(b));
  return b;
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace tlbscope::testing
