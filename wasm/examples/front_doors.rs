//! `tracing` and `log` as front doors in a Wasm guest, as the integration
//! tests run it under wasmtime:
//!
//! ```text
//! wasmtime run -S inherit-network=y front_doors.wasm SERVER COUNT
//! ```
//!
//! Installs [`alooma_wasm::TracingLayer`] and [`alooma_wasm::Logger`] over
//! one SDK whose notification callback itself emits a `tracing` event (so
//! SDK calls nest inside SDK calls), then reports through the real macros:
//! one `tracing` event, one inside two spans, one `log` record, and `COUNT`
//! `tracing` events into a 64 KiB buffer under `WhenFull::Block` without
//! ever polling (each full buffer is sent from inside the report that
//! waits). Prints the lines of the first three calls, then one `close:`
//! line with the close report.

use alooma_wasm::{Logger, Sdk, TracingLayer, WhenFull};
use std::time::Duration;
use tracing_subscriber::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args.first().cloned().unwrap_or_default();
    let count: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let sdk = Sdk::builder()
        .token("wasm-front")
        .server(server)
        .buffer_bytes(64 << 10)
        .replay_limit(16 << 10)
        .when_full(WhenFull::Block)
        .on_notify(|n| tracing::info!(target: "guest::notice", code = n.code(), "{n}"))
        .build();
    let sdk = match sdk {
        Ok(s) => s,
        Err(e) => {
            println!("config: {e}");
            return;
        }
    };
    tracing_subscriber::registry()
        .with(TracingLayer::new(sdk.clone()).event_type_field("kind"))
        .init();
    if let Err(e) = Logger::new(sdk.clone())
        .max_level(log::LevelFilter::Info)
        .init()
    {
        println!("logger: {e}");
    }

    let line_a = line!() + 1;
    tracing::info!(user = "ann", amount = 12, "purchase");
    let line_b;
    {
        let outer = tracing::info_span!("request", id = 7u64, path = "/buy");
        let _o = outer.enter();
        let inner = tracing::info_span!("db", table = "orders");
        let _i = inner.enter();
        line_b = line!() + 1;
        tracing::warn!(target: "shop::stock", left = -3i64, kind = "stock", "low stock: {}", "widgets");
    }
    let line_c = line!() + 1;
    log::info!(user = "bob", tries = 2; "login");
    log::debug!("below the level: not reported");
    println!("lines: {line_a} {line_b} {line_c}");

    for i in 0..count {
        tracing::info!(target: "guest::bulk", i, pad = "padding to make each record about two hundred bytes long", "reading");
    }
    let r = sdk.close(Duration::from_secs(30));
    println!(
        "close: accepted={} delivered={} unconfirmed={} unsent={} dropped={} rejected={} clean={}",
        r.accepted, r.delivered, r.unconfirmed, r.unsent, r.dropped, r.rejected, r.clean
    );
}
