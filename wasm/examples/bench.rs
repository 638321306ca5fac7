//! The `throughput` benchmark's Wasm row: reports COUNT events of the same
//! shape as the native rows (`examples/throughput.rs`) to SERVER with
//! `Block` (nothing lost), closes, and prints one line:
//!
//! ```text
//! wasmtime run -S inherit-network=y bench.wasm SERVER COUNT
//! bench: COUNT events, CALLER_NS ns per report(), TOTAL_S s to delivered
//! ```
//!
//! Built with `--profile wasm` (what a guest ships); timed with the guest's
//! own monotonic clock (`wasi:clocks`).

use alooma_wasm::{EventType, Sdk, WhenFull};
use std::time::{Duration, Instant};

// The same ~200-byte event as the native rows.
#[path = "../../examples/bench_event.rs"]
mod bench_event;
use bench_event::event;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args.first().cloned().unwrap_or_default();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let sdk = match Sdk::builder()
        .token("bench-token")
        .server(server)
        .input_label("bench")
        .event_type(EventType::field("kind"))
        .when_full(WhenFull::Block)
        .build()
    {
        Ok(s) => s,
        Err(e) => {
            println!("config: {e}");
            return;
        }
    };
    let t0 = Instant::now();
    for i in 0..n {
        if let Err(e) = sdk.report(&event(i)) {
            println!("refused {i}: {e}");
            return;
        }
    }
    let caller = t0.elapsed();
    let r = sdk.close(Duration::from_secs(60));
    let total = t0.elapsed();
    if r.delivered != n {
        println!("close: delivered {} of {n}: {r:?}", r.delivered);
        return;
    }
    println!(
        "bench: {n} events, {:.0} ns per report(), {:.3} s to delivered",
        caller.as_nanos() as f64 / n as f64,
        total.as_secs_f64()
    );
}
