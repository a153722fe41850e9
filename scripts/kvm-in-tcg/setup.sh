#!/bin/bash
# A KVM host for machines without /dev/kvm: QEMU's TCG emulates an AMD CPU
# with SVM, a Debian kernel inside it loads kvm_amd, and this machine's own
# root file system is its root (9p). Everything comes from Debian's archive
# (bookworm-backports for QEMU 10 and meson). One-time set-up, ~20 min on
# 2 cores (most of it QEMU's build); the result is cached in $KVM_IN_TCG_DIR.
#
# QEMU is built from Debian's source with one patch (qemu-svm-int3.patch):
# without it an int3 in the nested guest never reaches KVM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${KVM_IN_TCG_DIR:-/var/cache/tlbscope/kvm-in-tcg}
mkdir -p "$dir" && chmod 777 "$dir"
kver=6.1.0-57-amd64

if [[ ! -f /etc/apt/sources.list.d/tlbscope-backports.sources ]]; then
  cat > /etc/apt/sources.list.d/tlbscope-backports.sources <<'SRC'
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
apt-get install -y -qq busybox-static kmod cpio python3-venv flex bison ninja-build \
  libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev seabios ipxe-qemu \
  qemu-system-data >/dev/null  # its option ROMs (linuxboot_dma.bin, kvmvapic.bin)
apt-get install -y -qq -t bookworm-backports meson python3-pycotap >/dev/null

# QEMU 10 from Debian's source package, patched.
qemu=$dir/qemu-system-x86_64
if [[ ! -x $qemu ]]; then
  cd "$dir"
  apt-get source --download-only -qq -t bookworm-backports qemu >/dev/null 2>&1 || true
  tarball=$(ls qemu_*.orig.tar.xz | tail -1)
  rm -rf src && mkdir src && tar xf "$tarball" -C src --strip-components=1
  cd src
  patch -p1 < "$here/qemu-svm-int3.patch"
  sed -i 's/^if unpack_edk2_blobs$/if false/' pc-bios/meson.build  # blobs stripped by +ds
  mkdir b && cd b
  ../configure --python=/usr/bin/python3 --target-list=x86_64-softmmu --disable-docs \
    --disable-werror --disable-user --disable-gtk --disable-sdl --disable-vnc --disable-opengl \
    --disable-spice --disable-capstone --disable-slirp --disable-curl --disable-tools \
    --disable-guest-agent --disable-xen --disable-kvm --enable-tcg --enable-virtfs \
    --disable-rust --disable-install-blobs >"$dir/configure.log" 2>&1
  nice ninja -j"$(nproc)" qemu-system-x86_64 >"$dir/build.log" 2>&1
  cp qemu-system-x86_64 "$qemu"
  cd "$dir" && rm -rf src
fi

# The L1 kernel (Debian's, with kvm_amd and 9p as modules) and an initramfs
# that loads them, mounts this machine's / over 9p and runs the command.
if [[ ! -f $dir/vmlinuz || ! -f $dir/initrd.gz ]]; then
  cd "$dir" && rm -rf deb ird && mkdir deb ird
  apt-get download -qq "linux-image-$kver" >/dev/null 2>&1
  dpkg-deb -x linux-image-"$kver"_*.deb deb
  cp "deb/boot/vmlinuz-$kver" vmlinuz
  mkdir -p ird/bin ird/proc ird/sys ird/dev ird/newroot ird/mod
  cp /bin/busybox ird/bin/
  m=deb/lib/modules/$kver/kernel
  i=0
  for k in virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd \
    drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
    drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci fs/netfs/netfs \
    fs/fscache/fscache net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p; do
    i=$((i + 1))
    cp "$m/$k.ko" "ird/mod/$(printf %02d $i)-$(basename "$k").ko"
  done
  cp "$here/l1-init" ird/init && chmod +x ird/init
  (cd ird && find . | cpio -o -H newc 2>/dev/null | gzip -1 >../initrd.gz)
  rm -rf deb ird linux-image-*.deb
fi
echo "kvm-in-tcg ready in $dir"
