#!/usr/bin/env bash
# Fetches the Linux kernel the tests boot -- Debian's cloud-amd64 kernel, a
# kernel no one here wrote -- and builds a busybox initramfs from Debian's
# busybox-static, into a cache directory (default build/linux-cache). Only
# Debian's archive through apt-get download; nothing is fetched again once
# cached. Prints the paths; exits non-zero with a message on any failure
# (e.g. no network), so the tests that need the kernel fail, not pass.
#
#   scripts/fetch_linux.sh [CACHE_DIR]
#   -> CACHE_DIR/vmlinuz, CACHE_DIR/initramfs.cpio, CACHE_DIR/kernel-package
set -euo pipefail
CACHE=${1:-build/linux-cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
fail() { echo "fetch_linux: error: $*" >&2; exit 1; }

if [ ! -s "$CACHE/vmlinuz" ] || [ ! -s "$CACHE/initramfs.cpio" ]; then
  for tool in apt-get apt-cache dpkg-deb cpio; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/bootstrap.sh installs cpio)"
  done
  # The versioned package behind the linux-image-cloud-amd64 metapackage.
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || fail "apt-cache knows no linux-image-cloud-amd64 (run apt-get update?)"
  work=$(mktemp -d "$CACHE/tmp.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # apt-get download writes to the current directory; as root it warns
  # that _apt cannot write there, which is harmless.
  chmod 0777 "$work"
  (cd "$work" && apt-get download -q "$pkg" busybox-static 2>"$work/apt.err") ||
    fail "apt-get download $pkg busybox-static failed (no network?): $(tail -n 3 "$work/apt.err")"
  dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel" || fail "cannot unpack $pkg"
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox" || fail "cannot unpack busybox-static"
  vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1)
  [ -n "$vmlinuz" ] || fail "$pkg holds no /boot/vmlinuz-*"

  root="$work/root"
  mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
  cp "$work/busybox/bin/busybox" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  cat > "$root/init" <<'INIT'
#!/bin/sh
# tlbscope's test init: a few processes (each fork/exec/exit switches page
# tables), then a reboot, which tlbscope ends the run on (i8042 reset).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "tlbscope-init: userspace up, $(/bin/busybox nproc) CPUs online"
i=0
while [ $i -lt 5 ]; do
  /bin/busybox true
  i=$((i + 1))
done
echo "tlbscope-init: ran $i processes"
echo "tlbscope-init: done"
/bin/busybox reboot -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet > "$work/initramfs.cpio") ||
    fail "cpio failed"
  cp "$vmlinuz" "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
  mv "$work/initramfs.cpio" "$CACHE/initramfs.cpio"
  echo "$pkg" > "$CACHE/kernel-package"
fi
echo "kernel $CACHE/vmlinuz ($(cat "$CACHE/kernel-package"))"
echo "initrd $CACHE/initramfs.cpio"
