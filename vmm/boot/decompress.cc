#include "vmm/boot/decompress.h"

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

constexpr uint32_t kLz4LegacyMagic = 0x184c2102;
constexpr uint32_t kLz4LegacyBlock = 8 << 20;  // uncompressed bytes per block

uint32_t Le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

absl::Status Corrupt(std::string_view detail) {
  return absl::InvalidArgumentError(std::string(detail));
}

absl::Status TooBig(uint64_t max_out) {
  return absl::OutOfRangeError(absl::StrFormat("decompresses to more than %d MiB", max_out >> 20));
}

// Grows `out` so that at least one more chunk fits: doubling from 64 KiB
// (a fresh zero-filled MiB per call made small or refused inputs cost
// milliseconds of page faults).
bool Grow(std::vector<uint8_t>& out, size_t used, uint64_t max_out) {
  if (used < out.size()) return true;
  if (out.size() >= max_out) return false;
  out.resize(std::min<uint64_t>(max_out, std::max<size_t>(out.size() * 2, 64 << 10)));
  return true;
}

absl::StatusOr<std::vector<uint8_t>> Gunzip(std::span<const uint8_t> data, uint64_t max_out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("zlib: inflateInit2");
  std::vector<uint8_t> out;
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (!Grow(out, zs.total_out, max_out)) {
      inflateEnd(&zs);
      return TooBig(max_out);
    }
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - zs.total_out, 1u << 30));
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) rc = Z_DATA_ERROR;  // truncated
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string why = zs.msg ? zs.msg : (zs.avail_in == 0 ? "truncated" : "corrupt");
      inflateEnd(&zs);
      return Corrupt(
          absl::StrFormat("corrupt gzip data at compressed byte %d: %s", zs.total_in, why));
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Unxz(std::span<const uint8_t> data, uint64_t max_out) {
  lzma_stream xs = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&xs, UINT64_MAX, 0) != LZMA_OK) {
    return absl::InternalError("liblzma: lzma_stream_decoder");
  }
  std::vector<uint8_t> out;
  xs.next_in = data.data();
  xs.avail_in = data.size();
  lzma_ret rc = LZMA_OK;
  while (rc != LZMA_STREAM_END) {
    if (!Grow(out, xs.total_out, max_out)) {
      lzma_end(&xs);
      return TooBig(max_out);
    }
    xs.next_out = out.data() + xs.total_out;
    xs.avail_out = out.size() - xs.total_out;
    rc = lzma_code(&xs, xs.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
      uint64_t at = xs.total_in;
      lzma_end(&xs);
      return Corrupt(absl::StrFormat("corrupt xz data at compressed byte %d (liblzma error %d)", at,
                                     static_cast<int>(rc)));
    }
  }
  out.resize(xs.total_out);
  lzma_end(&xs);
  return out;
}

// The legacy lz4 format of `lz4 -l`, as Linux builds it: a magic, then
// blocks of [little-endian compressed size][LZ4 block] that each expand to
// 8 MiB (the last to less), possibly another magic; then the kernel's
// 4-byte size trailer.
absl::StatusOr<std::vector<uint8_t>> Unlz4Legacy(std::span<const uint8_t> data, uint64_t max_out) {
  std::vector<uint8_t> out;
  size_t pos = 0, used = 0;
  while (data.size() - pos >= 4) {
    uint32_t word = Le32(data.data() + pos);
    if (word == kLz4LegacyMagic) {
      pos += 4;
      continue;
    }
    if (pos > 0 && data.size() - pos == 4) break;  // the size trailer
    pos += 4;
    if (word > static_cast<uint32_t>(LZ4_compressBound(kLz4LegacyBlock)) ||
        word > data.size() - pos) {
      return Corrupt(
          absl::StrFormat("corrupt lz4 data at compressed byte %d: block of %d bytes "
                          "%s",
                          pos - 4, word,
                          word > data.size() - pos ? "runs past the end (truncated)"
                                                   : "is larger than lz4 allows"));
    }
    // An LZ4 block expands at most 255-fold (room for that, not a fresh
    // zero-filled 8 MiB for every small block), to 8 MiB, never past max_out.
    const uint64_t block_room = std::min<uint64_t>(kLz4LegacyBlock, uint64_t{word} * 255 + 64);
    const uint64_t room = std::min<uint64_t>(block_room, max_out - used);
    if (room == 0) return TooBig(max_out);
    out.resize(used + room);
    int n = LZ4_decompress_safe(reinterpret_cast<const char*>(data.data() + pos),
                                reinterpret_cast<char*>(out.data() + used), static_cast<int>(word),
                                static_cast<int>(room));
    if (n < 0 && room < block_room) return TooBig(max_out);
    if (n < 0) {
      return Corrupt(
          absl::StrFormat("corrupt lz4 data in the block at compressed byte %d", pos - 4));
    }
    used += n;
    pos += word;
  }
  if (used == 0) return Corrupt("lz4 data holds no blocks (truncated)");
  out.resize(used);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Unzstd(std::span<const uint8_t> data, uint64_t max_out) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(),
                                                              ZSTD_freeDStream);
  if (!ds) return absl::InternalError("libzstd: ZSTD_createDStream");
  // Linux compresses with --ultra -22: windows up to 2^27 bytes.
  ZSTD_DCtx_setParameter(ds.get(), ZSTD_d_windowLogMax, 31);
  std::vector<uint8_t> out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t used = 0;
  for (;;) {
    if (!Grow(out, used, max_out)) return TooBig(max_out);
    ZSTD_outBuffer ob{out.data() + used, out.size() - used, 0};
    size_t rc = ZSTD_decompressStream(ds.get(), &ob, &in);
    used += ob.pos;
    if (ZSTD_isError(rc)) {
      return Corrupt(absl::StrFormat("corrupt zstd data at compressed byte %d: %s", in.pos,
                                     ZSTD_getErrorName(rc)));
    }
    if (rc == 0) break;  // frame complete
    if (in.pos == in.size && ob.pos < ob.size) {
      return Corrupt(absl::StrFormat("truncated zstd data (%d compressed bytes)", in.size));
    }
  }
  out.resize(used);
  return out;
}

}  // namespace

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "uncompressed";
    case Compression::kGzip:
      return "gzip";
    case Compression::kXz:
      return "xz";
    case Compression::kLz4Legacy:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kLzma:
      return "lzma";
    case Compression::kLzo:
      return "lzo";
    case Compression::kUnknown:
      return "unknown";
  }
  return "?";
}

Compression DetectCompression(std::span<const uint8_t> d) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    if (d.size() < magic.size()) return false;
    return std::equal(magic.begin(), magic.end(), d.begin());
  };
  if (starts({0x7f, 'E', 'L', 'F'})) return Compression::kNone;
  if (starts({0x1f, 0x8b})) return Compression::kGzip;
  if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return Compression::kXz;
  if (starts({0x02, 0x21, 0x4c, 0x18})) return Compression::kLz4Legacy;
  if (starts({0x28, 0xb5, 0x2f, 0xfd})) return Compression::kZstd;
  if (starts({'B', 'Z', 'h'})) return Compression::kBzip2;
  if (starts({0x5d, 0x00, 0x00})) return Compression::kLzma;
  if (starts({0x89, 'L', 'Z', 'O'})) return Compression::kLzo;
  return Compression::kUnknown;
}

absl::StatusOr<std::vector<uint8_t>> Decompress(Compression format, std::span<const uint8_t> data,
                                                uint64_t max_out) {
  switch (format) {
    case Compression::kNone:
      if (data.size() > max_out) return TooBig(max_out);
      return std::vector<uint8_t>(data.begin(), data.end());
    case Compression::kGzip:
      return Gunzip(data, max_out);
    case Compression::kXz:
      return Unxz(data, max_out);
    case Compression::kLz4Legacy:
      return Unlz4Legacy(data, max_out);
    case Compression::kZstd:
      return Unzstd(data, max_out);
    default:
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s payloads are not supported (gzip, xz, lz4 and zstd are)", CompressionName(format)));
  }
}

}  // namespace tlbscope
