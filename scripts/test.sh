#!/usr/bin/env bash
# Every test of the workspace. Installs what it lacks first (rustup targets,
# nightly components, cargo-fuzz, Debian packages) and skips what is already
# there, so a second run goes straight to the tests.
#
#   FUZZ_SECONDS=N   seconds per fuzz target in the smoke run (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
step() { printf '\n=== %s (at %ds)\n' "$*" $(( $(date +%s) - t0 )); }
t0=$(date +%s)

step "install what is missing"
have=$(rustup target list --installed)
for t in thumbv7em-none-eabihf thumbv6m-none-eabi wasm32-wasip2; do
  grep -qx "$t" <<<"$have" || rustup target add "$t"
done
# Miri and fuzzing run on a pinned nightly (a newer one can break either),
# the declared rust-version is checked with that very toolchain, and every
# build below uses the committed Cargo.lock (--locked).
NIGHTLY=nightly-2026-05-20
MSRV=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
rustup toolchain list | grep -q "^$NIGHTLY" || rustup toolchain install "$NIGHTLY" --profile minimal
rustup component list --toolchain "$NIGHTLY" --installed | grep -q '^miri' ||
  rustup component add --toolchain "$NIGHTLY" miri rust-src
rustup toolchain list | grep -q "^$MSRV" || rustup toolchain install "$MSRV" --profile minimal
rustup target list --toolchain "$MSRV" --installed | grep -qx wasm32-wasip2 ||
  rustup target add --toolchain "$MSRV" wasm32-wasip2
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked
command -v cargo-hack >/dev/null || cargo install cargo-hack@0.6.46 --locked

# Miri interprets on one core for ~25 min: it runs in the background while
# the rest (wasmtime's build, the tests) keeps the other core busy.
miri_log=$(mktemp)
# Its own process group, so that a failure elsewhere stops all of it.
MIRIFLAGS="-Zmiri-disable-isolation" setsid cargo +"$NIGHTLY" miri test -q --locked -p alooma-core >"$miri_log" 2>&1 &
miri_pid=$!
trap 'kill -- -$miri_pid 2>/dev/null || true' EXIT

# wasmtime 48.0.8: newer releases need a newer rustc than this machine's.
wasmtime --version 2>/dev/null | grep -q ' 48\.0\.8' || cargo install wasmtime-cli@48.0.8 --locked
apt_pkgs=()
command -v curl >/dev/null || apt_pkgs+=(curl)
command -v syslog-ng >/dev/null || apt_pkgs+=(syslog-ng-core)
command -v openssl >/dev/null || apt_pkgs+=(openssl)
command -v qemu-system-arm >/dev/null || apt_pkgs+=(qemu-system-arm)
command -v valgrind >/dev/null || apt_pkgs+=(valgrind)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}"
fi

# rsyslog with imrelp for the RELP tests: Debian's rsyslog conflicts with
# syslog-ng-core (both are system loggers), so its packages are unpacked
# under target/, never installed.
rsyslog_root=target/rsyslog
if [ ! -x "$rsyslog_root/usr/sbin/rsyslogd" ] ||
   [ ! -e "$rsyslog_root/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so" ]; then
  debs=$(mktemp -d)
  (cd "$debs" && apt-get download -q rsyslog rsyslog-relp librelp0 libestr0 libfastjson4 liblognorm5) ||
    { apt-get update -qq && (cd "$debs" && apt-get download -q rsyslog rsyslog-relp librelp0 libestr0 libfastjson4 liblognorm5); }
  mkdir -p "$rsyslog_root"
  for f in "$debs"/*.deb; do dpkg -x "$f" "$rsyslog_root"; done
  rm -rf "$debs"
fi
# The system libraries those packages depend on (present on most Debian
# machines; installed if a fresh one lacks any).
rs_lib="$rsyslog_root/usr/lib/x86_64-linux-gnu"
if LD_LIBRARY_PATH="$rs_lib" ldd "$rsyslog_root/usr/sbin/rsyslogd" "$rs_lib/librelp.so.0" \
     "$rs_lib/rsyslog/imrelp.so" "$rs_lib/rsyslog/lmnsd_ptcp.so" | grep -q 'not found'; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libsystemd0 libuuid1 libzstd1 zlib1g libgnutls30 libssl3
fi

step "format, lint, docs"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps -q

step "the published crates: rust-version $MSRV, and every feature combination (cargo hack)"
cargo +"$MSRV" check -q --locked --all-features -p alooma-core -p alooma -p alooma-embedded-io
cargo +"$MSRV" check -q --locked --all-features --target wasm32-wasip2 -p alooma-wasi -p alooma-wasm
echo "alooma-core, alooma, alooma-embedded-io, alooma-wasi, alooma-wasm build with Rust $MSRV"
cargo hack check -q --locked --feature-powerset -p alooma-core -p alooma -p alooma-embedded-io
cargo hack check -q --locked --feature-powerset --target wasm32-wasip2 -p alooma-wasi -p alooma-wasm

step "tests: core, native SDK, device driver, syslog-ng, fault injection, firmware under QEMU, Wasm under wasmtime"
cargo test --locked --workspace --all-features

step "quickstart (README's main command)"
cargo run -q --locked --example quickstart > /dev/null
echo "quickstart delivered every event"

step "core builds for bare metal and Wasm (no allocator)"
for t in thumbv7em-none-eabihf thumbv6m-none-eabi wasm32-wasip2; do
  cargo build -q --locked -p alooma-core --target "$t"
  echo "alooma-core builds for $t"
done
# Firmware that links the core with a static ring and no #[global_allocator]:
# if anything needed an allocator, this link would fail.
(cd examples/nostd-link && cargo build -q --locked --release)
size -A examples/nostd-link/target/thumbv7em-none-eabihf/release/nostd-link | grep -E '^\.(text|rodata|data|bss) '
# The core as devices build it (no default features: no `read-back`), on
# the host: its own workspace, because the main one unifies features.
(cd tests/no-read-back && cargo clippy -q --locked --all-targets -- -D warnings && cargo test -q --locked)
echo "alooma-core without read-back: event types noted while writing, read-back settings refused"

step "device firmware: what the SDK costs (firmware minus its baseline without SDK calls)"
# Flash = .text + .rodata + .data; static RAM = .data + .bss; stack = the
# high-water mark each binary measures under QEMU (painted stack).
flash() { size -A "$1" | awk '/^\.(text|rodata|data) /{f+=$2} END{print f}'; }
sram() { size -A "$1" | awk '/^\.(data|bss) /{f+=$2} END{print f}'; }
stack() {
  timeout 60 qemu-system-arm -machine "$2" -nographic \
    -semihosting-config enable=on,target=native -kernel "$1" 2>&1 >/dev/null |
    sed -n 's/.* stack \([0-9]*\).*/\1/p'
}
# Budgets: issue 22 asks 10,240 (Cortex-M4) and 12,288 (Cortex-M0) bytes of
# flash and the ring plus 1 KiB of RAM; neither is reached (README,
# "Devices"). These hold what was reached (15,084 and 16,168 bytes; 15,152
# and 16,232 before the loss marker was asked due in place and a fixed event
# type written without a temporary; 18,132
# and 18,852 before the firmware left out connection notifications, feature
# `notify`, and the device code lost its 64-bit word scans and shifts), so
# that it cannot grow unseen.
sdk_size() { # target machine flash-budget [features]
  local t=$1 m=$2 budget=$3 feat=${4:-} dir=target args=()
  if [ -n "$feat" ]; then dir=target/$feat; args=(--features "$feat"); fi
  (cd examples/firmware && cargo build -q --locked --release --target "$t" \
    --target-dir "$dir" --bin alooma-firmware --bin baseline "${args[@]}")
  local fw=examples/firmware/$dir/$t/release/alooma-firmware
  local base=examples/firmware/$dir/$t/release/baseline
  local f=$(( $(flash "$fw") - $(flash "$base") ))
  local r=$(( $(sram "$fw") - $(sram "$base") ))
  local line="$t ${feat:-plain TCP}: SDK flash $f bytes (firmware $(flash "$fw"), baseline $(flash "$base")), static RAM $r"
  if [ -z "$feat" ]; then
    local s1 s0
    s1=$(stack "$fw" "$m"); s0=$(stack "$base" "$m")
    line="$line, stack $(( s1 - s0 )) (firmware $s1, baseline $s0)"
  fi
  echo "$line"
  if [ "$budget" -gt 0 ] && [ "$f" -gt "$budget" ]; then
    echo "the SDK's flash on $t is over its budget of $budget bytes"; exit 1
  fi
}
sdk_size thumbv7em-none-eabihf mps2-an386 15200
sdk_size thumbv6m-none-eabi microbit 16300
# RELP on a device: stated, not budgeted.
sdk_size thumbv7em-none-eabihf mps2-an386 0 relp
for t in thumbv7em-none-eabihf thumbv6m-none-eabi; do
  (cd examples/firmware && cargo clippy -q --locked --release --bins --target "$t" -- -D warnings)
done
echo "the firmware is clippy-clean for both targets"

step "Wasm guest sizes (profile wasm: opt-level z, lto, strip)"
cargo build -q --locked --profile wasm --target wasm32-wasip2 -p alooma-wasm --example minimal
cargo build -q --locked --profile wasm --target wasm32-wasip2 -p alooma-edge-function
ls -l target/wasm32-wasip2/wasm/alooma_edge_function.wasm | awk '{print "edge-function component: " $5 " bytes"}'
# With RELP (feature `relp`, off by default for guests): reported, not budgeted.
cargo build -q --locked --profile wasm --target wasm32-wasip2 -p alooma-wasm --example minimal --features relp
echo "minimal guest with RELP: $(stat -c %s target/wasm32-wasip2/wasm/examples/minimal.wasm) bytes"
cargo build -q --locked --profile wasm --target wasm32-wasip2 -p alooma-wasm --example minimal
n=$(stat -c %s target/wasm32-wasip2/wasm/examples/minimal.wasm)
echo "minimal guest: $n bytes"
# 129,100: what was reached (129,006; 134,413 before read-back left the
# guest's defaults and the cuts of 2026-12-04, README "Wasm"; 134,876 before the loss marker was
# encoded in place and the envelope's writers called without wrappers). It was 152,484 before the guest read
# the wall clock from wasi:clocks itself (std's SystemTime::now links
# io::Error's Debug text: 12.7 KB), parsed IP literals by bytes (core::net's
# parser: 3.3 KB), built its error texts without format! and checked its
# settings by bytes (2.1 KB), and wrote hex from nibbles (0.5 KB). Issue
# 21's goal of 120,000 is not reached (README, "Wasm").
[ "$n" -lt 129100 ] || { echo "the minimal guest is over its 129.1 KB budget"; exit 1; }

step "report() instructions (callgrind: a count, not a time)"
cargo build -q --locked --release -p alooma-examples --bin throughput
# Instructions of the whole process (the sender thread included) for N
# iterations; the difference between two N is the per-iteration cost.
instr() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    target/release/throughput --count "$1" "$2" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_event() { echo $(( ($(instr "$1" 20000) - $(instr "$1" 10000)) / 10000 )); }
ours=$(per_event report)
refused=$(per_event refused)
theirs=$(per_event serde_json)
echo "report(): $ours instructions per event; refused for a full buffer: $refused; serde_json, the same record: $theirs"
# 3,000: what report() costs now (2,904 in the last runs; 2,984 before the
# clock was read with clock_gettime), with room for the digits of the clock
# and the random bytes; issue 21's goal of 1,500 is not reached (README,
# "Performance").
[ "$ours" -le 3000 ] || { echo "report() costs more than 3,000 instructions"; exit 1; }
[ $(( refused * 4 )) -le "$ours" ] ||
  { echo "a refused report() costs more than a quarter of an accepted one"; exit 1; }

step "core under Miri (started in the background)"
if wait $miri_pid; then tail -n 3 "$miri_log"; else cat "$miri_log"; exit 1; fi
trap - EXIT

step "fuzz smoke run (${FUZZ_SECONDS:=20}s per target)"
for target in json encode ring relp recover; do
  (cd core/fuzz && cargo +"$NIGHTLY" fuzz run "$target" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 2>&1 | tail -n 2)
done

echo "all tests passed in $(( $(date +%s) - t0 ))s"
