//! A WASI program that reports numbered events through the SDK, as the
//! integration tests run it under wasmtime:
//!
//! ```text
//! wasmtime run -S inherit-network=y deliver.wasm SERVER COUNT [PACE_MS [CLOSE_MS [CONNECT_MS
//!     [BUFFER_BYTES REPLAY_LIMIT POLICY PAD [PROTOCOL]]]]]
//! ```
//!
//! Every 100 events it polls and sleeps `PACE_MS` (default 0), so a test can
//! restart the collector mid-stream; `CLOSE_MS` bounds the final close and
//! `CONNECT_MS` each connection attempt. `BUFFER_BYTES` and `REPLAY_LIMIT`
//! size the ring and the window (default: the SDK's), `POLICY` is
//! `block`, `drop-newest` (default) or `drop-oldest`, and `PAD` adds that many
//! bytes to each event; `PROTOCOL` is `tcp` (default) or `relp`. It prints each notification, then one `close:` line
//! with the close report, and exits 0 whatever happened.

use alooma_wasm::Sdk;
use serde::Serialize;
use std::time::Duration;

#[derive(Serialize)]
struct Reading<'a> {
    i: u64,
    kind: &'a str,
    value: f64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pad: &'a str,
}

thread_local! {
    static NOTICES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
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
    let buffer = arg(5, alooma_wasm::DEFAULT_BUFFER_BYTES as u64) as usize;
    let replay = arg(6, alooma_wasm::DEFAULT_REPLAY_LIMIT as u64) as usize;
    let policy = match args.get(7).map(String::as_str) {
        Some("block") => alooma_wasm::WhenFull::Block,
        Some("drop-oldest") => alooma_wasm::WhenFull::DropOldest,
        _ => alooma_wasm::WhenFull::DropNewest,
    };
    let pad = "x".repeat(arg(8, 0) as usize);
    let protocol = match args.get(9).map(String::as_str) {
        Some("relp") => alooma_wasm::Protocol::Relp,
        _ => alooma_wasm::Protocol::Tcp,
    };
    let sdk = Sdk::builder()
        .token("wasm-test")
        .server(server)
        .buffer_bytes(buffer)
        .replay_limit(replay)
        .when_full(policy)
        .protocol(protocol)
        .connect_timeout(Duration::from_millis(connect_ms))
        .backoff(alooma_wasm::Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            jitter_percent: 20,
        })
        .on_notify(|n| {
            // The first 500 in full (a test reads them); the rest counted.
            let k = NOTICES.get();
            NOTICES.set(k + 1);
            if k < 500 {
                println!("notice: {n}");
            }
        })
        .build();
    let sdk = match sdk {
        Ok(s) => s,
        Err(e) => {
            println!("config: {e}");
            return;
        }
    };
    let kinds = ["temperature", "humidity", "pressure"];
    let mut refused = 0u64;
    for id in 0..count {
        let ev = Reading {
            i: id,
            kind: kinds[id as usize % 3],
            value: id as f64 / 4.0,
            pad: &pad,
        };
        if let Err(e) = sdk.report(&ev) {
            refused += 1;
            if refused <= 5 {
                println!("refused {id}: {e}");
            }
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
    println!("refused: {refused}; notices: {}", NOTICES.get());
    println!(
        "close: accepted={} delivered={} unconfirmed={} unsent={} dropped={} rejected={} replayed={} clean={} loss_told={} connects={} dropped_newest={} dropped_oldest={} discarded={}",
        r.accepted,
        r.delivered,
        r.unconfirmed,
        r.unsent,
        r.dropped,
        r.rejected,
        r.replayed,
        r.clean,
        r.loss_told,
        s.connects,
        s.dropped_newest,
        s.dropped_oldest,
        s.discarded
    );
}
