#include "vmm/boot/elf_file.h"

#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

constexpr uint32_t kXenElfnotePhys32Entry = 18;

struct ElfDeleter {
  void operator()(Elf* e) const { elf_end(e); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

absl::Status Corrupt(const std::string& what, std::string_view detail) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: truncated or corrupt ELF: %s", what, detail));
}

std::string LibelfError() {
  const char* msg = elf_errmsg(-1);
  return msg ? msg : "unknown libelf error";
}

constexpr uint32_t kNtGnuBuildId = 3;

// Reads the PVH entry and the GNU build id from one note blob.
void ReadNotes(Elf* elf, uint64_t offset, uint64_t size, ElfFile& out) {
  Elf_Data* data = elf_getdata_rawchunk(elf, offset, size, ELF_T_NHDR);
  if (data == nullptr) return;
  size_t pos = 0;
  GElf_Nhdr nhdr;
  size_t name_off, desc_off;
  while (pos < data->d_size) {
    size_t next = gelf_getnote(data, pos, &nhdr, &name_off, &desc_off);
    if (next == 0) break;
    const char* base = static_cast<const char*>(data->d_buf);
    bool is_xen = nhdr.n_namesz == 4 && std::memcmp(base + name_off, "Xen", 4) == 0;
    bool is_gnu = nhdr.n_namesz == 4 && std::memcmp(base + name_off, "GNU", 4) == 0;
    if (is_xen && nhdr.n_type == kXenElfnotePhys32Entry && !out.pvh_entry) {
      if (nhdr.n_descsz == 4) {
        uint32_t v;
        std::memcpy(&v, base + desc_off, 4);
        out.pvh_entry = v;
      } else if (nhdr.n_descsz == 8) {
        uint64_t v;
        std::memcpy(&v, base + desc_off, 8);
        out.pvh_entry = v;
      }
    }
    if (is_gnu && nhdr.n_type == kNtGnuBuildId && out.build_id.empty()) {
      for (size_t i = 0; i < nhdr.n_descsz; ++i) {
        out.build_id += absl::StrFormat("%02x", static_cast<uint8_t>(base[desc_off + i]));
      }
    }
    pos = next;
  }
}

void ReadSections(Elf* elf, std::span<const uint8_t> bytes, ElfFile& out) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    bool has_bits = shdr.sh_type != SHT_NOBITS;
    // A section whose bytes lie past the end of a truncated file is dropped.
    if (has_bits &&
        (shdr.sh_offset > bytes.size() || shdr.sh_size > bytes.size() - shdr.sh_offset)) {
      continue;
    }
    out.sections.push_back({name ? name : "", shdr.sh_addr, shdr.sh_offset, shdr.sh_size,
                            (shdr.sh_flags & SHF_EXECINSTR) != 0, has_bits});
  }
}

void ReadSymbols(Elf* elf, ElfFile& out) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || shdr.sh_entsize == 0) continue;
    size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      int type = GELF_ST_TYPE(sym.st_info);
      if (type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT) continue;
      if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || *name == '\0') continue;
      out.symbols.push_back({name, sym.st_value, sym.st_size, type == STT_FUNC});
    }
  }
}

}  // namespace

absl::StatusOr<ElfFile> ParseElf(std::span<const uint8_t> bytes, const std::string& what) {
  if (!HasElfMagic(bytes)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not an ELF file", what));
  }
  elf_version(EV_CURRENT);
  // libelf only reads from the buffer; elf_memory takes a non-const pointer.
  ElfPtr elf(elf_memory(reinterpret_cast<char*>(const_cast<uint8_t*>(bytes.data())), bytes.size()));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return Corrupt(what, LibelfError());

  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf.get(), &ehdr) == nullptr) return Corrupt(what, LibelfError());
  ElfFile out{};
  out.is_64bit = gelf_getclass(elf.get()) == ELFCLASS64;
  out.machine = ehdr.e_machine;
  out.entry = ehdr.e_entry;
  if (ehdr.e_machine != EM_X86_64 && ehdr.e_machine != EM_386) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: ELF machine %d is not x86 (EM_X86_64 or EM_386)", what, ehdr.e_machine));
  }

  size_t phnum;
  if (elf_getphdrnum(elf.get(), &phnum) != 0) return Corrupt(what, LibelfError());
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) == nullptr) {
      return Corrupt(what, absl::StrFormat("program header %d: %s", i, LibelfError()));
    }
    if (ph.p_type == PT_LOAD && (ph.p_filesz > 0 || ph.p_memsz > 0)) {
      if (ph.p_filesz > ph.p_memsz) {
        return Corrupt(what, absl::StrFormat("segment %d has p_filesz %#x > p_memsz %#x", i,
                                             ph.p_filesz, ph.p_memsz));
      }
      if (ph.p_offset > bytes.size() || ph.p_filesz > bytes.size() - ph.p_offset) {
        return Corrupt(what,
                       absl::StrFormat("segment %d needs file bytes [%#x, %#x) but the file "
                                       "is %#x bytes long",
                                       i, ph.p_offset, ph.p_offset + ph.p_filesz, bytes.size()));
      }
      out.loads.push_back({ph.p_paddr, ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz});
      if (ph.p_flags & PF_X) out.exec_loads.push_back(out.loads.back());
    }
    if (ph.p_type == PT_NOTE) {
      if (ph.p_offset > bytes.size() || ph.p_filesz > bytes.size() - ph.p_offset) {
        return Corrupt(what, absl::StrFormat("note segment %d runs past the end of the file", i));
      }
      ReadNotes(elf.get(), ph.p_offset, ph.p_filesz, out);
    }
  }
  ReadSections(elf.get(), bytes, out);
  ReadSymbols(elf.get(), out);
  return out;
}

std::optional<uint64_t> LoadedPhysical(const std::vector<ElfSegment>& loads, uint64_t vaddr) {
  std::optional<uint64_t> out;
  for (const ElfSegment& seg : loads) {
    if (vaddr >= seg.vaddr && vaddr - seg.vaddr < seg.filesz) out = seg.paddr + (vaddr - seg.vaddr);
  }
  return out;
}

}  // namespace tlbscope
