#!/usr/bin/env bash
# The loss-accounting fault family, RUNS times each (default 10): RELP
# against the real rsyslog (Direct and default queue; DropOldest and
# DropNewest; killed 5 times, or stopped 2 s then killed) and plain TCP
# against the test collector (the same faults, plus the sustained family).
# Run before calling loss accounting done; CI runs each once.
#   RUNS=N scripts/soak-loss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
cargo test -q --locked -p alooma-tests --test native_relp --test native_faults --no-run
for i in $(seq 1 "$runs"); do
  echo "=== run $i of $runs"
  cargo test -q --locked -p alooma-tests --test native_relp loss_told -- --nocapture 2>&1 |
    grep -E 'markers arrived|test result|panicked|FAILED'
  cargo test -q --locked -p alooma-tests --test native_faults -- killed_five_times stopped_then_killed backoff_starts 2>&1 |
    grep -E 'test result|panicked|FAILED'
done
