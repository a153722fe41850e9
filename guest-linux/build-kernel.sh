#!/usr/bin/env bash
# Builds the tlbscope test kernel from Debian's linux-source-6.12 tarball:
# tinyconfig + config/tlbscope.config, the host patches this host needs,
# optionally a variant's patches and a developer's own. The result is cached
# outside the clone, keyed by (source tarball, config fragment, patches,
# recipe), so a second run with nothing changed takes seconds.
#
#   guest-linux/build-kernel.sh            -> prints the kernel directory
#
# The kernel directory holds vmlinux (DWARF 5), vmlinux.btf (pahole, detached),
# System.map, bzImage, config and key. $CACHE/kernel is a symlink to the last
# default build ($CACHE/kernel-VARIANT for a variant). Environment:
#   TLBSCOPE_LINUX_SOURCE   tarball (default /usr/src/linux-source-6.12.tar.xz)
#   TLBSCOPE_LINUX_CACHE    cache dir (default $XDG_CACHE_HOME/tlbscope/linux,
#                           else /var/cache/tlbscope/linux as root, else
#                           ~/.cache/tlbscope/linux)
#   TLBSCOPE_LINUX_HOST     auto (default) | kvm_pvm | plain: which host patches
#   TLBSCOPE_LINUX_VARIANT  a folder name under patches/variants/ (default none)
#   TLBSCOPE_LINUX_PATCHES  a folder of extra *.patch files (-p1), applied last
#   TLBSCOPE_LINUX_JOBS     make -j (default: nproc)
# Any failure is one line "build-kernel: error: ..." on stderr and status 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=1 # bump when this script's output changes for the same inputs
fail() {
  echo "build-kernel: error: $*" >&2
  exit 1
}
note() { echo "build-kernel: $*" >&2; }

default_cache() {
  if [ -n "${XDG_CACHE_HOME:-}" ]; then
    echo "$XDG_CACHE_HOME/tlbscope/linux"
  elif [ "$(id -u)" -eq 0 ]; then
    echo /var/cache/tlbscope/linux
  else
    echo "${HOME:?}/.cache/tlbscope/linux"
  fi
}

TARBALL=${TLBSCOPE_LINUX_SOURCE:-/usr/src/linux-source-6.12.tar.xz}
CACHE=${TLBSCOPE_LINUX_CACHE:-$(default_cache)}
HOST=${TLBSCOPE_LINUX_HOST:-auto}
VARIANT=${TLBSCOPE_LINUX_VARIANT:-}
EXTRA=${TLBSCOPE_LINUX_PATCHES:-}
JOBS=${TLBSCOPE_LINUX_JOBS:-$(nproc)}
FRAGMENT=$HERE/config/tlbscope.config

[ -e "$TARBALL" ] || fail "linux source tarball $TARBALL not found (apt-get install linux-source-6.12, or set TLBSCOPE_LINUX_SOURCE)"
[ -r "$TARBALL" ] && [ -f "$TARBALL" ] || fail "linux source tarball $TARBALL is not a readable file"
if [ "$HOST" = auto ]; then
  if [ -d /sys/module/kvm_pvm ]; then HOST=kvm_pvm; else HOST=plain; fi
fi
case "$HOST" in kvm_pvm | plain) ;; *) fail "TLBSCOPE_LINUX_HOST=$HOST: expected auto, kvm_pvm or plain" ;; esac
if [ -n "$VARIANT" ]; then
  case "$VARIANT" in */* | .*) fail "TLBSCOPE_LINUX_VARIANT=$VARIANT: expected a folder name under $HERE/patches/variants" ;; esac
  [ -d "$HERE/patches/variants/$VARIANT" ] || fail "variant $VARIANT: no folder $HERE/patches/variants/$VARIANT"
fi
if [ -n "$EXTRA" ]; then
  [ -d "$EXTRA" ] || fail "TLBSCOPE_LINUX_PATCHES=$EXTRA is not a folder"
  EXTRA=$(cd "$EXTRA" && pwd)
fi
for tool in tar xz make gcc flex bison bc pahole patch sha256sum flock; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/bootstrap.sh installs the kernel's build dependencies)"
done

# The patches, in order: host, variant, extra.
PATCHES=()
add_patches() {
  local dir=$1 p
  [ -d "$dir" ] || return 0
  for p in "$dir"/*.patch; do
    [ -e "$p" ] && PATCHES+=("$p")
  done
  return 0
}
[ "$HOST" = kvm_pvm ] && add_patches "$HERE/patches/host/kvm_pvm"
[ -n "$VARIANT" ] && add_patches "$HERE/patches/variants/$VARIANT"
[ -n "$EXTRA" ] && add_patches "$EXTRA"

mkdir -p "$CACHE" || fail "cannot create the cache directory $CACHE (set TLBSCOPE_LINUX_CACHE)"
CACHE=$(cd "$CACHE" && pwd)
exec 9>"$CACHE/.lock"
flock 9 # one build at a time per cache

# The key: the tarball's bytes, the fragment, each patch, the recipe.
SOURCE_ID=$(sha256sum <"$TARBALL" | cut -c1-16)
KEY=$({
  echo "recipe $RECIPE source $SOURCE_ID"
  cat "$FRAGMENT"
  for p in "${PATCHES[@]}"; do
    echo "patch $(basename "$p")"
    cat "$p"
  done
} | sha256sum | cut -c1-16)
OUT=$CACHE/builds/$KEY
LINK=$CACHE/kernel${VARIANT:+-$VARIANT}

if [ -f "$OUT/.complete" ]; then
  ln -sfn "builds/$KEY" "$LINK"
  note "kernel $KEY cached ($HOST host${VARIANT:+, variant $VARIANT})"
  echo "$LINK"
  exit 0
fi

# The pristine source, unpacked once per tarball.
PRISTINE=$CACHE/source/$SOURCE_ID
if [ ! -f "$PRISTINE/.complete" ]; then
  note "unpacking $TARBALL (once)"
  rm -rf "$PRISTINE" "$PRISTINE.tmp"
  mkdir -p "$PRISTINE.tmp"
  if ! tar -xf "$TARBALL" -C "$PRISTINE.tmp" 2>"$CACHE/unpack.log"; then
    rm -rf "$PRISTINE.tmp"
    fail "cannot unpack $TARBALL: $(grep -m1 . "$CACHE/unpack.log" || echo 'tar failed')"
  fi
  top=$(find "$PRISTINE.tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
  [ -n "$top" ] && [ -f "$top/Makefile" ] || {
    rm -rf "$PRISTINE.tmp"
    fail "$TARBALL holds no kernel source tree (no top-level folder with a Makefile)"
  }
  mv "$top" "$PRISTINE.tmp/linux" 2>/dev/null || true
  touch "$PRISTINE.tmp/.complete"
  mv "$PRISTINE.tmp" "$PRISTINE"
fi

# One work tree (hard links to the pristine tree) and one build dir, reused by
# every key, so that a change to a patch rebuilds only what it touches.
# Files patched by an earlier key are restored from the pristine tree first.
WORK=$CACHE/work
SRC=$WORK/src
BUILD=$WORK/build
LOG=$WORK/build.log
if [ "$(cat "$WORK/source-id" 2>/dev/null)" != "$SOURCE_ID" ] || [ ! -d "$SRC" ]; then
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cp -al "$PRISTINE/linux" "$SRC"
  echo "$SOURCE_ID" >"$WORK/source-id"
fi
touched_by() { sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$@"; }
restore=$(cat "$WORK/patched-files" 2>/dev/null || true)
newly=$( ((${#PATCHES[@]})) && touched_by "${PATCHES[@]}" || true)
printf '%s\n%s\n' "$restore" "$newly" | sort -u | grep . >"$WORK/patched-files" || true
for f in $restore; do
  rm -f "$SRC/$f"
  if [ -f "$PRISTINE/linux/$f" ]; then cp "$PRISTINE/linux/$f" "$SRC/$f"; fi
done
: >"$LOG"
for p in "${PATCHES[@]}"; do
  if ! patch -d "$SRC" -p1 --batch --forward --no-backup-if-mismatch -r - <"$p" >>"$LOG" 2>&1; then
    fail "patch $p does not apply to $(basename "$TARBALL") (log: $LOG)"
  fi
done

# Config: tinyconfig, the fragment on top, olddefconfig, then check that every
# line of the fragment survived.
mkdir -p "$BUILD"
kmake() { make -C "$SRC" O="$BUILD" ARCH=x86_64 "$@" >>"$LOG" 2>&1; }
kmake tinyconfig || fail "make tinyconfig failed in $SRC (log: $LOG)"
names=$(sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set/\1/p' "$FRAGMENT")
grep -v -w -F -e "$names" "$BUILD/.config" >"$BUILD/.config.merged" || true
grep -E '^(CONFIG_|# CONFIG_)' "$FRAGMENT" >>"$BUILD/.config.merged"
mv "$BUILD/.config.merged" "$BUILD/.config"
kmake olddefconfig || fail "make olddefconfig failed (log: $LOG)"
while IFS= read -r line; do
  case "$line" in
    CONFIG_*) grep -qx -F "$line" "$BUILD/.config" ||
      fail "config: $line from $(basename "$FRAGMENT") did not survive olddefconfig (a dependency is missing)" ;;
    "# CONFIG_"*) name=${line#\# }
      name=${name%% *}
      ! grep -q "^$name=" "$BUILD/.config" ||
        fail "config: $name is still set after olddefconfig although $(basename "$FRAGMENT") unsets it" ;;
  esac
done <"$FRAGMENT"

note "building kernel $KEY ($HOST host${VARIANT:+, variant $VARIANT}, make -j$JOBS; log: $LOG)"
start=$(date +%s)
if ! kmake -j"$JOBS" bzImage; then
  err=$(grep -m1 -E 'error:|Error [0-9]' "$LOG" || echo "see the log")
  fail "kernel build failed: $err (log: $LOG)"
fi
pahole --btf_encode_detached="$BUILD/vmlinux.btf" "$BUILD/vmlinux" >>"$LOG" 2>&1 ||
  fail "pahole could not make BTF from $BUILD/vmlinux (log: $LOG)"

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
cp "$BUILD/vmlinux" "$BUILD/vmlinux.btf" "$BUILD/System.map" "$OUT.tmp/"
cp "$BUILD/arch/x86/boot/bzImage" "$OUT.tmp/bzImage"
cp "$BUILD/.config" "$OUT.tmp/config"
{
  echo "key $KEY"
  echo "source $(basename "$TARBALL") sha256:$SOURCE_ID"
  echo "release $(cat "$BUILD/include/config/kernel.release" 2>/dev/null || echo unknown)"
  echo "host $HOST"
  echo "variant ${VARIANT:-none}"
  for p in "${PATCHES[@]}"; do echo "patch $p"; done
  echo "built $(date -u +%FT%TZ) in $(($(date +%s) - start)) s"
} >"$OUT.tmp/key"
touch "$OUT.tmp/.complete"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
ln -sfn "builds/$KEY" "$LINK"
note "kernel $KEY built in $(($(date +%s) - start)) s"
echo "$LINK"
