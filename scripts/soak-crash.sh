#!/usr/bin/env bash
# The buffer file's crash and damage tests at soak size: 1,000 producers
# killed with SIGKILL per protocol (plain TCP to the test collector, RELP to
# rsyslog) and 5,000 damaged files, RUNS times (default 1). Run before
# calling the durable buffer done; CI runs 200 kills and 1,000 files.
#   RUNS=N scripts/soak-crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-1}
cargo test -q --locked -p alooma-tests --test native_crash --no-run
for i in $(seq 1 "$runs"); do
  echo "=== run $i of $runs"
  CRASH_KILLS=${CRASH_KILLS:-1000} DAMAGE_TRIALS=${DAMAGE_TRIALS:-5000} \
    cargo test -q --locked -p alooma-tests --test native_crash -- --nocapture 2>&1 |
    grep -E 'crash loop|runs,|damaged files|last producer|test result|panicked|FAILED'
done
