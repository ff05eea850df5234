#!/usr/bin/env bash
# Fuzzes each target for SECONDS, one after another, one job (docs/robustness.md).
#   fuzz/run.sh SECONDS [TARGET...]     (default: all targets)
# Needs cargo-fuzz (`cargo install cargo-fuzz`); stable Rust with RUSTC_BOOTSTRAP=1 suffices.
# Prints "<target>: <executions> executions in <seconds> s"; exits non-zero on a crash, whose
# input libFuzzer writes to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf exec machine cluster npy ron_tile ron_cluster scenario cli gdb_packets htif checkpoint adapter tokens)
export RUSTC_BOOTSTRAP=1
mkdir -p logs
for t in "${targets[@]}"; do
  dict=()
  [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
  if ! cargo fuzz run -O -s none "$t" "corpus/$t" -- -max_total_time="$secs" \
      -rss_limit_mb=2048 -timeout=10 "${dict[@]}" >"logs/$t.log" 2>&1; then
    echo "$t: CRASH, see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -Eo '^Done [0-9]+ runs in [0-9]+ second' "logs/$t.log" | tail -1 |
    awk -v t="$t" '{print t ": " $2 " executions in " $5 " s"}'
done
