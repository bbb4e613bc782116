#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 600), two at a time, and print the executions
# each reached and the crashes it found. The committed seeds are fuzz/seeds/<target>; what the
# fuzzer finds goes to fuzz/corpus/<target> (cargo-fuzz's default, not committed). Crashes land
# in fuzz/artifacts/<target>/; each is copied to fuzz/regressions/<target>/ and named in
# RECORDED in tests/fuzz_seeds.rs before it is fixed (fuzz/regressions/README.md).
# The target list below must match TARGETS in tests/fuzz_seeds.rs (a test checks it).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
targets=(burst csbk lc data_header data_reassembly mmdvm_stream homebrew_datagram filter)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
mkdir -p fuzz/logs
run() {
  local t=$1
  mkdir -p "fuzz/corpus/$t"
  cargo fuzz run -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1
  local status=$?
  local crashes
  crashes=$(find "fuzz/artifacts/$t" -name 'crash-*' 2>/dev/null | wc -l)
  echo "$t: exit $status $(grep -a 'stat::number_of_executed_units' "fuzz/logs/$t.log" | tr -s ' ') crashes: $crashes"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  [ -n "${targets[i + 1]:-}" ] && run "${targets[i + 1]}" &
  wait
done
