#!/bin/bash
# run.sh [-s SMP] [-m MEM] [-t TIMEOUT_S] -- COMMAND...: runs COMMAND (with
# bash, in this directory) inside the TCG machine that has /dev/kvm, with
# its output on this terminal; exits with COMMAND's status. setup.sh first.
set -euo pipefail
dir=${KVM_IN_TCG_DIR:-/var/cache/tlbscope/kvm-in-tcg}
smp=2 mem=12G timeout=3600
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    -s) smp=$2; shift 2 ;;
    -m) mem=$2; shift 2 ;;
    -t) timeout=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift
[[ -x $dir/qemu-system-x86_64 ]] || { echo "run.sh: $dir has no QEMU: run setup.sh" >&2; exit 2; }
cmd=$(mktemp /tmp/kvm-in-tcg.XXXXXX)
trap 'rm -f "$cmd" "$cmd.cwd" "$cmd.rc"' EXIT
# The test kernel is built on this machine, not in TCG (hours there): the
# kvm_pvm build of the cache is used, its SYSCALL fixup being inert on SVM.
echo "export TLBSCOPE_LINUX_HOST=${TLBSCOPE_LINUX_HOST:-kvm_pvm}" >"$cmd"
printf '%q ' "$@" >>"$cmd"
pwd >"$cmd.cwd"
# tsc=reliable: TCG's TSC is steady, but Linux would mark it unstable, and
# KVM then moves each vCPU's TSC offset whenever its thread changes CPU.
# KVM_IN_TCG_APPEND adds to L1's command line (tsc=unstable: as on the
# kvm_pvm hosts, whose command line has it).
timeout "$timeout" "$dir/qemu-system-x86_64" -L /usr/share/seabios -L /usr/share/qemu \
  -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" -nographic -no-reboot -nic none \
  -kernel "$dir/vmlinuz" -initrd "$dir/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet tsc=reliable ${KVM_IN_TCG_APPEND:-} tlbscope.cmd=$cmd" \
  -virtfs local,path=/,mount_tag=root,security_model=passthrough,id=r0,multidevs=remap |
  sed -u 's/\x1bc//g; s/\x1b\[[0-9;?]*[a-zA-Z]//g' |
  grep -a -v -E '^\[ *[0-9]+\.[0-9]+\] (sysrq|reboot)|SeaBIOS|iPXE|Booting from|^$'
[[ -f $cmd.rc ]] || { echo "run.sh: the TCG machine stopped without the command's status" >&2; exit 3; }
exit "$(cat "$cmd.rc")"
