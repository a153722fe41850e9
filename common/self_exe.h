#pragma once

// Where this executable is, and the files installed beside it: `tlbscope`
// and `tlbscope-regress` live in one folder and find each other, and the
// bundled guest-probe, from there.

#include <string>

namespace tlbscope {

// This executable's folder (from /proc/self/exe, symlinks resolved), or ""
// if /proc cannot say.
std::string SelfDir();

// `name` in this executable's folder ("" if SelfDir() is "").
std::string SiblingPath(const std::string& name);

// The bundled guest-probe: DIR/../guest-probe/guest-probe.elf (the build
// tree) or DIR/../share/tlbscope/guest-probe.elf (installed), DIR being
// SelfDir(); `fallback` (the build tree's path) when neither is readable.
std::string BundledGuestProbe(const std::string& fallback);

}  // namespace tlbscope
