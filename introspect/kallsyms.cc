#include "introspect/kallsyms.h"

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "introspect/elf_image.h"

namespace tlbscope::introspect {
namespace {

// A bounded view of the section that holds the tables, addressed by offset.
struct Blob {
  std::span<const uint8_t> b;
  std::optional<uint64_t> U(size_t at, size_t width) const {
    if (at > b.size() || width > b.size() - at) return std::nullopt;
    uint64_t v = 0;
    memcpy(&v, &b[at], width);
    return v;
  }
};

size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

struct Tables {
  size_t token_table = 0;
  size_t token_index = 0;             // end of the token index: token_index + 512
  std::vector<size_t> token_offsets;  // 256 offsets into token_table
  std::vector<uint64_t> markers;
  size_t markers_start = 0;
  size_t names = 0;
  uint32_t num_syms = 0;
};

// The token table: 256 NUL-terminated strings, "0".."9" at 0x30..0x39.
bool FindTokenTable(const Blob& blob, Tables* t) {
  static constexpr char kDigits[] =
      "0\0"
      "1\0"
      "2\0"
      "3\0"
      "4\0"
      "5\0"
      "6\0"
      "7\0"
      "8\0"
      "9";
  std::string_view hay(reinterpret_cast<const char*>(blob.b.data()), blob.b.size());
  std::string_view needle(kDigits, sizeof(kDigits));  // includes the final NUL
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) {
    // Walk back 0x30 strings to the table's start.
    size_t start = at;
    bool ok = true;
    for (int i = 0; i < 0x30 && ok; ++i) {
      if (start < 2 || blob.b[start - 1] != 0) {
        ok = false;
        break;
      }
      size_t s = start - 1;
      while (s > 0 && blob.b[s - 1] != 0) --s;
      if (s == start - 1) ok = false;  // empty string: not a token
      start = s;
    }
    if (!ok) continue;
    std::vector<size_t> offs;
    size_t p = start;
    for (int i = 0; i < 256 && p < blob.b.size(); ++i) {
      offs.push_back(p - start);
      while (p < blob.b.size() && blob.b[p] != 0) ++p;
      ++p;
    }
    if (offs.size() != 256) continue;
    for (size_t idx = AlignUp(p, 2); idx <= AlignUp(p, 8) + 8; idx += 2) {
      bool match = true;
      for (int i = 0; i < 256 && match; ++i) {
        auto v = blob.U(idx + 2 * i, 2);
        match = v && *v == offs[i];
      }
      if (match) {
        t->token_table = start;
        t->token_index = idx;
        t->token_offsets = std::move(offs);
        return true;
      }
    }
  }
  return false;
}

// kallsyms_markers: u32 offsets into the names of every 256th symbol,
// ascending from 0, somewhere before the token table (right before it, or
// before kallsyms_seqs_of_names). Candidates nearest the token table first;
// `skip` of them are passed over (a candidate is confirmed by FindNames).
bool FindMarkers(const Blob& blob, Tables* t, int skip) {
  size_t limit = t->token_table > (8u << 20) ? t->token_table - (8u << 20) : 0;
  for (size_t p = t->token_table / 4 * 4; p >= limit + 4;) {
    p -= 4;
    if (*blob.U(p, 4) != 0) continue;
    std::vector<uint64_t> m = {0};
    for (size_t q = p + 4; q + 4 <= t->token_table; q += 4) {
      uint64_t v = *blob.U(q, 4);
      uint64_t step = v - m.back();
      if (v <= m.back() || step < 256 || step > 256 * 256) break;
      m.push_back(v);
    }
    if (m.size() < 2 || skip-- > 0) continue;
    t->markers = std::move(m);
    t->markers_start = p;
    return true;
  }
  return false;
}

// Length of one names entry (ULEB128, one or two bytes since 6.1).
std::optional<size_t> EntryLength(const Blob& blob, size_t at, size_t* header) {
  auto b0 = blob.U(at, 1);
  if (!b0) return std::nullopt;
  if ((*b0 & 0x80) == 0) {
    *header = 1;
    return *b0;
  }
  auto b1 = blob.U(at + 1, 1);
  if (!b1) return std::nullopt;
  *header = 2;
  return (*b0 & 0x7f) | (*b1 << 7);
}

// kallsyms_num_syms (8-aligned .long) then kallsyms_names 8 bytes later;
// the names' every 256th entry must start at its marker.
bool FindNames(const Blob& blob, Tables* t) {
  size_t m = t->markers.size();
  for (size_t x = t->markers_start / 8 * 8; x >= 8; x -= 8) {
    size_t cand = x - 8;
    uint64_t n = *blob.U(cand, 4);
    if (n == 0 || (n + 255) / 256 != m) continue;
    size_t names = cand + 8;
    size_t at = names;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; ++i) {
      if (i % 256 == 0 && at - names != t->markers[i / 256]) ok = false;
      size_t header = 0;
      auto len = EntryLength(blob, at, &header);
      if (!ok || !len || *len == 0) {
        ok = false;
        break;
      }
      at += header + *len;
      if (at > t->markers_start) ok = false;
    }
    if (ok && t->markers_start - at < 8) {
      t->names = names;
      t->num_syms = static_cast<uint32_t>(n);
      return true;
    }
    if (t->markers_start - cand > (64u << 20)) break;
  }
  return false;
}

std::vector<std::string> DecodeNames(const Blob& blob, const Tables& t) {
  std::vector<std::string> out;
  out.reserve(t.num_syms);
  size_t at = t.names;
  for (uint32_t i = 0; i < t.num_syms; ++i) {
    size_t header = 0;
    size_t len = *EntryLength(blob, at, &header);
    at += header;
    std::string name;
    for (size_t k = 0; k < len; ++k) {
      uint8_t tok = blob.b[at + k];
      const char* s = reinterpret_cast<const char*>(&blob.b[t.token_table + t.token_offsets[tok]]);
      name += s;
    }
    at += len;
    out.push_back(name.empty() ? name : name.substr(1));  // drop the type letter
  }
  return out;
}

// Addresses from kallsyms_offsets and kallsyms_relative_base at `offsets`.
std::optional<std::vector<uint64_t>> Addresses(const Blob& blob, size_t offsets, uint32_t n,
                                               bool absolute_percpu) {
  auto base = blob.U(AlignUp(offsets + 4ull * n, 8), 8);
  if (!base || (*base >> 48) != 0xffff) return std::nullopt;
  std::vector<uint64_t> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    int32_t off = static_cast<int32_t>(*blob.U(offsets + 4ull * i, 4));
    if (!absolute_percpu) {
      out[i] = *base + static_cast<uint32_t>(off);
    } else {
      out[i] = off >= 0 ? static_cast<uint64_t>(off) : *base - 1 - off;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<KernelSymbols> SymbolsFromKallsyms(std::span<const uint8_t> elf) {
  absl::StatusOr<ElfImage> image = ElfImage::Open(elf);
  if (!image.ok()) return image.status();
  const ElfSection* rodata = image->Section(".rodata");
  if (rodata == nullptr) return absl::NotFoundError("kallsyms: the vmlinux has no .rodata");
  Blob blob{image->Contents(*rodata)};
  Tables t;
  if (!FindTokenTable(blob, &t)) return absl::NotFoundError("kallsyms: no kallsyms_token_table");
  bool found = false;
  for (int skip = 0; skip < 64 && !found; ++skip) {
    if (!FindMarkers(blob, &t, skip)) {
      return absl::NotFoundError("kallsyms: no kallsyms_markers before the token table");
    }
    found = FindNames(blob, &t);
  }
  if (!found) return absl::NotFoundError("kallsyms: no kallsyms_num_syms/names before the markers");
  std::vector<std::string> names = DecodeNames(blob, t);
  // The offsets: before num_syms (up to 6.3) or after the token index.
  size_t before = t.names - 8 - 8 - AlignUp(4ull * t.num_syms, 8);
  size_t after = AlignUp(t.token_index + 512, 8);
  for (size_t offsets : {after, before}) {
    for (bool absolute : {true, false}) {
      auto addrs = Addresses(blob, offsets, t.num_syms, absolute);
      if (!addrs) continue;
      KernelSymbols symbols;
      symbols.set_source("kallsyms");
      for (uint32_t i = 0; i < t.num_syms; ++i) symbols.Add(names[i], (*addrs)[i]);
      std::optional<uint64_t> banner = symbols.Find("linux_banner");
      if (!banner) return absl::NotFoundError("kallsyms: no linux_banner among the names");
      auto text = image->At(*banner, 14);
      if (text && memcmp(text->data(), "Linux version ", 14) == 0) return symbols;
    }
  }
  return absl::NotFoundError("kallsyms: no kallsyms_offsets/relative_base that place linux_banner");
}

}  // namespace tlbscope::introspect
