#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (checked in; rerun only to
remake them). Usage: make_corpus.py BUILD_DIR TRACE...

BUILD_DIR: a default build (its tests/kernels/); TRACE: trace files the
tests wrote (tlbcollect's and tlbscope's readers)."""

import gzip
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def varint(b, i):
    r = shift = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return r, i


def trace_events(data):
    """The serialized Events of a trace (TraceRecord field 2)."""
    out, i = [], 0
    while i < len(data):
        try:
            n, i = varint(data, i)
        except IndexError:
            break
        rec = data[i:i + n]
        i += n
        if rec[:1] == b"\x12":
            m, j = varint(rec, 1)
            out.append(rec[j:j + m])
    return out


def traces(paths):
    for p in paths:
        data = open(p, "rb").read()
        name = os.path.basename(p)
        put("trace_reader", name, data)
        put("trace_decoder", name, data)
        evs = [e for e in trace_events(data) if len(e) < 256]
        if evs:
            put("collector_events", name, b"".join(bytes([len(e)]) + e for e in evs))


def kernels(build):
    kdir = os.path.join(build, "tests", "kernels")
    for k in ["mb_aout.bin", "mb_elf32.elf32", "pvh_hello.elf", "pvh_no_note.elf",
              "pvh_truncated.elf", "pvh_cr3x5.elf", "tlb_sites_stripped.elf"]:
        put("kernel_elf", k, open(os.path.join(kdir, k), "rb").read())


def compress(tool, args, data):
    if tool == "gzip":
        return gzip.compress(data, 9)
    out = subprocess.run([tool, "-c"] + args, input=data, capture_output=True, check=True).stdout
    return out + struct.pack("<I", len(data))  # Linux's size_append


def bzimage(payload, setup_sects=4):
    """A bzImage as tests/common/synthetic_bzimage.cc makes them."""
    setup = (setup_sects + 1) * 512
    b = bytearray(setup) + bytearray(b"\x90" * 0x100)
    b[0x1F1] = setup_sects
    struct.pack_into("<H", b, 0x1FE, 0xAA55)
    b[0x200:0x202] = b"\xeb\x66"
    struct.pack_into("<IH", b, 0x202, 0x53726448, 0x020F)
    b[0x211] = 1
    struct.pack_into("<I", b, 0x214, 0x100000)
    struct.pack_into("<IIBxH", b, 0x22C, 0x7FFFFFFF, 0x200000, 1, 1)
    struct.pack_into("<I", b, 0x238, 2047)
    struct.pack_into("<II", b, 0x248, 0x100, len(payload))
    struct.pack_into("<QI", b, 0x258, 0x1000000, 0x100000)
    return bytes(b) + payload + bytes(16)


def bzimages(build):
    vmlinux = open(os.path.join(build, "tests", "kernels", "pvh_hello.elf"), "rb").read()
    for tool, args in [("gzip", []), ("xz", ["--check=crc32", "-9"]), ("lz4", ["-l", "-9"]),
                       ("zstd", ["-19"])]:
        put("kernel_bzimage", "pvh_hello." + tool, bzimage(compress(tool, args, vmlinux)))
    put("kernel_bzimage", "pvh_hello.plain", bzimage(vmlinux))


def compressed():
    plain = open(os.path.join(ROOT, "README.md"), "rb").read()[:4096]
    for tool, args in [("gzip", []), ("xz", ["--check=crc32", "-9"]), ("lz4", ["-l", "-9"]),
                       ("zstd", ["-19"])]:
        put("decompress_" + tool, "readme." + tool, compress(tool, args, plain))
        put("decompress_" + tool, "empty." + tool, compress(tool, args, b""))


def probe_msg(kind, cpu=0, args=(0, 0, 0, 0), name=b"", text=b"", line=0):
    m = struct.pack("<IHHII4Q", 0x504C4254, 1, kind, cpu, line, *args)
    m += b"fuzz.c".ljust(48, b"\0")
    m += name.ljust(48, b"\0")[:48] + text.ljust(112, b"\0")[:112]
    return m


def ring_header(nslots, head=0, tail=0, cpu=0):
    h = struct.pack("<IHHIIQQ", 0x474E4952, 2, 64, cpu, nslots, head, 0)
    h = h.ljust(64, b"\0") + struct.pack("<Q", tail)
    return h.ljust(128, b"\0")


def ring_record(kind, flags, tsc, args, aux=0):
    # struct tlbscope_ring_record (probe_abi.h): 64 bytes.
    return struct.pack("<HHIQ6Q", kind, flags, aux, tsc, *(list(args) + [0] * 6)[:6])


def step(vcpu, gpa, data):
    return struct.pack("<BHB", vcpu, gpa, len(data)) + data


def probe_channel():
    hello = probe_msg(1, args=(2, 0, 0, 0), name=b"probe")
    log = probe_msg(5, text=b"hello from the guest")
    result = probe_msg(2, name=b"check", args=(1, 0, 0, 0), text=b"ok")
    ring = probe_msg(9, args=(0x4000, 0, 0, 0))
    # Messages are 256 bytes; a step carries at most 255: write in two.
    def msg_steps(vcpu, gpa, m):
        return step(0x40 | vcpu, gpa, m[:128]) + step(vcpu, gpa + 128, m[128:])
    put("probe_channel", "hello_log_result", msg_steps(0, 0x100, hello) +
        msg_steps(1, 0x300, log) + msg_steps(0, 0x500, result))
    hdr = ring_header(4)
    put("probe_channel", "ring", step(0x40, 0x4000, hdr) + msg_steps(0, 0x100, ring))
    done = probe_msg(7, args=(3, 0, 0, 0))
    put("probe_channel", "done", msg_steps(2, 0x200, done))
    put("probe_channel", "assert", msg_steps(0, 0x200, probe_msg(3, text=b"x == y", line=7)))
    put("probe_channel", "exception", msg_steps(0, 0x200, probe_msg(4, args=(14, 0x1000, 2, 0))))


def guest_ring():
    recs = [ring_record(1, 0, 100, [0b10, 0x40]),
            ring_record(3, 1, 101, [0x1000, 0x5000, 0x5003, 3]),
            ring_record(6, 1, 102, [9, 0x1000, 0x3000, 12, 44, 0b110]),
            ring_record(7, 0, 103, [9, 40, 44, 44, 0x1000, 0x2000], aux=44)]
    slots = b"".join(recs)
    put("guest_ring", "four", ring_header(4) + ring_header(4, head=4) + slots)
    put("guest_ring", "wrapped", ring_header(4, head=6, tail=6) + ring_header(4, head=9, tail=0) +
        slots)
    put("guest_ring", "grown", ring_header(4) + ring_header(64, head=3) + slots)
    put("guest_ring", "flooded", ring_header(8) + ring_header(8, head=1 << 62) + slots)


DOMAIN = """<domain type='kvm'>
  <name>probe</name>
  <memory unit='MiB'>96</memory>
  <vcpu>4</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>guest-probe.elf</kernel>
    <initrd>/boot/initrd.img</initrd>
    <cmdline>scenario=lam-lazy</cmdline>
  </os>
  <devices>
    <serial type='pty'/>
  </devices>
</domain>
"""


def domains():
    put("domain_xml", "probe.xml", DOMAIN.encode())
    put("domain_xml", "disk.xml", DOMAIN.replace(
        "<serial type='pty'/>", "<disk type='file' device='disk'><source file='/x.img'/>"
        "<target dev='vda' bus='virtio'/></disk>").encode())
    put("domain_xml", "loader.xml", DOMAIN.replace(
        "<kernel>", "<loader>/usr/share/OVMF/OVMF_CODE.fd</loader><kernel>").encode())
    put("domain_xml", "minimal.xml", b"<domain type='kvm'><name>x</name><memory>65536</memory>"
        b"<os><type>hvm</type><kernel>k</kernel></os></domain>")


def main():
    build = sys.argv[1]
    kernels(build)
    bzimages(build)
    compressed()
    traces(sys.argv[2:])
    probe_channel()
    guest_ring()
    domains()
    for f in os.listdir(os.path.join(ROOT, "suites")):
        put("suite_toml", f, open(os.path.join(ROOT, "suites", f), "rb").read())


if __name__ == "__main__":
    main()
