//! `tracing` as a front door: the real macros, through `TracingLayer`, to a
//! loopback collector; each record checked field by field.

use alooma::{Sdk, TracingLayer, WhenFull};
use alooma_tests::collector::Collector;
use alooma_tests::wait_until;
use serde_json::Value;
use std::time::Duration;
use tracing_subscriber::prelude::*;

fn sdk_for(c: &Collector) -> Sdk {
    Sdk::builder()
        .token("t")
        .server(c.server())
        .when_full(WhenFull::Block)
        .build()
        .unwrap()
}

/// The collector's records, parsed, once it has `n`.
fn records(c: &Collector, n: usize) -> Vec<Value> {
    assert!(
        wait_until(Duration::from_secs(10), || c.count() >= n),
        "the collector got {} of {n} records",
        c.count()
    );
    c.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn events_with_fields_spans_level_target_and_origin() {
    let c = Collector::start();
    let sdk = sdk_for(&c);
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new(sdk.clone()));
    let (line_a, line_b) = tracing::subscriber::with_default(subscriber, || {
        let line_a = line!() + 1;
        tracing::info!(user = "ann", amount = 12, "purchase");
        let outer = tracing::info_span!("request", id = 7u64, path = "/buy");
        let _o = outer.enter();
        let inner = tracing::debug_span!("db", table = "orders");
        let _i = inner.enter();
        inner.record("table", "invoices");
        let line_b = line!() + 1;
        tracing::warn!(target: "shop::stock", left = -3i64, ratio = 0.5, ok = false, "low stock: {}", "widgets");
        (line_a, line_b)
    });
    let r = records(&c, 2);
    let a = &r[0];
    assert_eq!(a["user"], "ann");
    assert_eq!(a["amount"], 12);
    assert_eq!(a["message"], "purchase");
    assert_eq!(a["level"], "INFO");
    assert_eq!(a["target"], "native_tracing");
    assert!(a.get("spans").is_none(), "{a}");
    let m = &a["_metadata"];
    assert_eq!(m["event_type"], "native_tracing");
    assert_eq!(m["token"], "t");
    assert_eq!(m["calling_line"], line_a);
    assert!(m["calling_file"]
        .as_str()
        .unwrap()
        .ends_with("native_tracing.rs"));
    assert!(m["@uuid"].is_string() && m["report_time"].is_string());

    let b = &r[1];
    assert_eq!(b["message"], "low stock: widgets");
    assert_eq!(b["left"], -3);
    assert_eq!(b["ratio"], 0.5);
    assert_eq!(b["ok"], false);
    assert_eq!(b["level"], "WARN");
    assert_eq!(b["target"], "shop::stock");
    assert_eq!(b["_metadata"]["event_type"], "shop::stock");
    assert_eq!(b["_metadata"]["calling_line"], line_b);
    // Spans root first, with their fields (a recorded value replaces the
    // one the span was made with).
    assert_eq!(
        b["spans"],
        serde_json::json!([
            {"name": "request", "id": 7, "path": "/buy"},
            {"name": "db", "table": "invoices"}
        ])
    );
    let report = sdk.close(Duration::from_secs(5));
    assert_eq!((report.accepted, report.delivered), (2, 2), "{report:?}");
}

#[test]
fn event_type_from_a_chosen_field() {
    let c = Collector::start();
    let sdk = sdk_for(&c);
    let layer = TracingLayer::new(sdk.clone()).event_type_field("kind");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(kind = "checkout", n = 1);
        tracing::info!(kind = 5, n = 2); // not a string: the target
        tracing::info!(n = 3);
    });
    let r = records(&c, 3);
    let types: Vec<&str> = r
        .iter()
        .map(|v| v["_metadata"]["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["checkout", "native_tracing", "native_tracing"]);
    sdk.close(Duration::from_secs(5));
}

/// Under a producer that never pauses and a buffer far smaller than the
/// traffic, every event the layer handed over is delivered or counted, and
/// the SDK's own diagnostics (sent to `tracing` too) never loop back in.
/// The collector reads nothing while the events are reported: 19 MB
/// against at most ~10 MB of kernel buffers on loopback and a 64 KiB ring,
/// so the ring must overflow however fast the sender is.
#[test]
fn sustained_events_into_a_small_buffer_add_up() {
    let c = Collector::start();
    c.pause_reading(true);
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(64 * 1024)
        .peer_buffer(16 * 1024)
        .build()
        .unwrap();
    let n = 50_000u64;
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(TracingLayer::new(sdk.clone())),
        || {
            for i in 0..n {
                tracing::info!(
                    i,
                    pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "tick"
                );
            }
        },
    );
    let st = sdk.stats();
    c.pause_reading(false);
    let report = sdk.close(Duration::from_secs(20));
    // Every event reached the SDK (accepted, or refused for room: counted
    // in `accepted` and `dropped`), none was rejected.
    assert_eq!((st.accepted, st.rejected), (n, 0), "{st:?}");
    // The buffer overflowed (so the SDK notified, through `tracing` too).
    assert!(
        st.dropped > 0,
        "the traffic must overflow the buffer: {st:?}"
    );
    assert_eq!(report.accepted, n);
    assert_eq!(
        report.delivered + report.unconfirmed + report.unsent + report.dropped,
        report.accepted,
        "{report:?}"
    );
    let got = c.lines().iter().filter(|l| l.contains("\"tick\"")).count() as u64;
    assert!(got >= report.delivered, "{got} < {report:?}");
    // Nothing but the events (and loss markers) arrived: no diagnostics.
    assert!(c
        .lines()
        .iter()
        .all(|l| l.contains("\"tick\"") || l.contains("alooma_loss")));
}
