//! The ~200-byte event every `throughput` row reports, included by path
//! from `examples/throughput.rs` and `wasm/examples/bench.rs` (the Wasm row
//! reports the very same event).

use serde::Serialize;

/// A ~200-byte event.
#[derive(Serialize)]
pub struct Event<'a> {
    pub kind: &'a str,
    pub user_id: u64,
    pub session: &'a str,
    pub path: &'a str,
    pub referrer: &'a str,
    pub duration_ms: u32,
    pub items: [u32; 4],
    pub total: f64,
    pub ok: bool,
}

/// Event number `i` (fields vary with `i`).
pub fn event(i: u64) -> Event<'static> {
    Event {
        kind: "page_view",
        user_id: 1_000_000 + i,
        session: "c0ffee00-1234-5678-9abc-def012345678",
        path: "/products/widgets/blue-widget-deluxe",
        referrer: "https://search.example.com/?q=widgets",
        duration_ms: (i % 5000) as u32,
        items: [1, 2, 3, (i % 10) as u32],
        total: 42.5 + (i % 100) as f64,
        ok: !i.is_multiple_of(7),
    }
}
