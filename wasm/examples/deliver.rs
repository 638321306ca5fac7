//! A WASI program that reports numbered events through the SDK, as the
//! integration tests run it under wasmtime:
//!
//! ```text
//! wasmtime run -S inherit-network=y deliver.wasm SERVER COUNT [PACE_MS [CLOSE_MS [CONNECT_MS]]]
//! ```
//!
//! Every 100 events it sleeps `PACE_MS` (default 0), polling, so a test can
//! restart the collector mid-stream; `CLOSE_MS` bounds the final close and
//! `CONNECT_MS` each connection attempt. It prints each notification, then one
//! `close:` line with the close report, and exits 0 whatever happened.

use alooma_wasm::Sdk;
use serde::Serialize;
use std::time::Duration;

#[derive(Serialize)]
struct Reading<'a> {
    i: u64,
    kind: &'a str,
    value: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let server = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:5001".into());
    let (count, pace, close_ms) = (arg(1, 10_000), arg(2, 0), arg(3, 30_000));
    let connect_ms = arg(4, 10_000);
    let sdk = Sdk::builder()
        .token("wasm-test")
        .server(server)
        .buffer_bytes(16 << 20)
        .connect_timeout(Duration::from_millis(connect_ms))
        .backoff(alooma_wasm::Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            jitter_percent: 20,
        })
        .on_notify(|n| println!("notice: {n}"))
        .build();
    let mut sdk = match sdk {
        Ok(s) => s,
        Err(e) => {
            println!("config: {e}");
            return;
        }
    };
    let kinds = ["temperature", "humidity", "pressure"];
    for id in 0..count {
        let ev = Reading {
            i: id,
            kind: kinds[id as usize % 3],
            value: id as f64 / 4.0,
        };
        if let Err(e) = sdk.report(&ev) {
            println!("refused {id}: {e}");
        }
        if id % 100 == 99 {
            sdk.poll();
            if pace > 0 {
                std::thread::sleep(Duration::from_millis(pace));
            }
        }
    }
    let r = sdk.close(Duration::from_millis(close_ms));
    let s = sdk.stats();
    println!(
        "close: delivered={} unsent={} dropped={} rejected={} replayed={} clean={} connects={}",
        r.delivered, r.unsent, r.dropped, r.rejected, r.replayed, r.clean, s.connects
    );
}
