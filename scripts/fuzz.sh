#!/usr/bin/env bash
# Builds tests/fuzz's libFuzzer targets with clang, ASan and UBSan in
# build-fuzz/ and runs them long, one at a time (README "Fuzzing").
#
#   scripts/fuzz.sh                   every target, 1,000,000 runs each
#   scripts/fuzz.sh guest_ring xz     the targets named (fuzz_ prefixes optional)
#   FUZZ_RUNS=0 FUZZ_TIME=3600 scripts/fuzz.sh kernel_bzimage   an hour
#   scripts/fuzz.sh --list            the targets
#
# Each run starts from a copy of the checked-in corpus (tests/fuzz/corpus/T)
# in build-fuzz/corpus/T, which keeps what it finds; crashes are written to
# build-fuzz/crashes/T/. A crash: add the input to tests/fuzz/corpus/T/ with
# the fix, so the `fuzz` CTest label replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(trace_reader trace_decoder collector_events kernel_elf kernel_bzimage
  decompress_gzip decompress_xz decompress_lz4 decompress_zstd suite_toml domain_xml
  probe_channel guest_ring kernel_cache)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${TARGETS[@]}"
  exit 0
fi
if (($#)); then
  picked=()
  for t in "$@"; do
    t=${t#fuzz_}
    if [[ ! " ${TARGETS[*]} " =~ " $t " ]] && [[ " ${TARGETS[*]} " =~ " decompress_$t " ]]; then
      t=decompress_$t
    fi
    if [[ ! " ${TARGETS[*]} " =~ " $t " ]]; then
      echo "fuzz.sh: no fuzz target '$t' (scripts/fuzz.sh --list)" >&2
      exit 2
    fi
    picked+=("$t")
  done
  TARGETS=("${picked[@]}")
fi
for tool in clang clang++; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz.sh: $tool not found (scripts/bootstrap.sh installs clang and libclang-rt-14-dev)" >&2
    exit 2
  fi
done

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DTLBSCOPE_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j"${FUZZ_BUILD_JOBS:-$(nproc)}" --target \
  "${TARGETS[@]/#/fuzz_}"

RUNS=${FUZZ_RUNS:-1000000}
TIME=${FUZZ_TIME:-0}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/corpus/$t"
  crashes="$BUILD/crashes/$t"
  mkdir -p "$work" "$crashes"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/
  echo "== fuzz_$t: runs $RUNS, max time ${TIME}s, corpus $work"
  # -close_fd_mask=2: the target's own stderr (a refused ring's line, ...)
  # is quiet; libFuzzer's report still goes to the terminal.
  if ! "$BUILD/tests/fuzz/fuzz_$t" -runs="$RUNS" -max_total_time="$TIME" \
      -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$crashes/" \
      ${FUZZ_ARGS:-} "$work"; then
    echo "fuzz.sh: fuzz_$t FAILED: the input is in $crashes/" >&2
    status=1
  fi
done
exit $status
