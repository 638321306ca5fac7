//! Reporting an event allocates nothing: a counting global allocator sees
//! zero allocations while events are validated, encoded into the ring,
//! transmitted and released, on this thread.

use alooma_core::{Config, EventType, Instant, Ring, Sender, Stamp, UnixMillis};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(serde::Serialize)]
struct Checkout<'a> {
    kind: &'a str,
    user: &'a str,
    items: [u32; 3],
    total: f64,
    coupon: Option<&'a str>,
    tags: &'a [&'a str],
}

static SERVERS: [&str; 1] = ["127.0.0.1:5001"];

#[test]
fn reporting_allocates_nothing() {
    let mut cfg = Config::new("token", &SERVERS);
    cfg.event_type = EventType::Field("kind");
    // A record is confirmed once 2 KiB more were written after it.
    cfg.buffer_bytes = 8192;
    cfg.replay_limit = 2048;
    cfg.validate().unwrap();
    let enc = cfg.encoder();
    let mut ring: Ring<[u8; 8192]> = Ring::new();
    let mut sender = Sender::new(cfg.sender(), 1);
    let ev = Checkout {
        kind: "checkout",
        user: "ann \"the\" buyer",
        items: [1, 2, 3],
        total: 12.5,
        coupon: None,
        tags: &["a", "b"],
    };
    let text = br#"{ "kind": "page", "path": "/x", "ms": 12.25, "nested": {"deep": [1, 2, {"k": "\u00e9"}]} }"#;
    let meta = Checkout {
        kind: "m",
        user: "u",
        items: [0; 3],
        total: 0.0,
        coupon: Some("c"),
        tags: &[],
    };
    let here = std::panic::Location::caller();

    // The counter works: a heap allocation while armed is seen.
    ARMED.with(|a| a.set(true));
    drop(std::hint::black_box(Box::new(7u64)));
    ARMED.with(|a| a.set(false));
    assert_eq!(ALLOCS.swap(0, Ordering::Relaxed), 1);

    ARMED.with(|a| a.set(true));
    let mut accepted = 0;
    let n = if cfg!(miri) { 200 } else { 10_000u64 };
    for i in 0..n {
        let stamp = Stamp {
            time: Some(UnixMillis(1_700_000_000_000 + i)),
            uuid: Some([i as u8; 16]),
            location: Some(here),
        };
        let r = if i % 3 == 0 {
            ring.push_with(false, cfg.max_event(), |o| {
                enc.encode_json(text, Some(&meta), &stamp, o)
            })
        } else {
            ring.push_with(false, cfg.max_event(), |o| {
                enc.encode_value(&ev, alooma_core::NO_META, &stamp, o)
            })
        };
        accepted += r.is_ok() as usize;
        // An invalid event is refused without allocating either.
        let _ = ring.push_with(false, cfg.max_event(), |o| {
            enc.encode_json(b"[1,2", alooma_core::NO_META, &stamp, o)
        });
        let now = Instant::from_millis(i);
        match sender.poll(now, &ring) {
            alooma_core::Action::Connect { .. } => sender.on_connected(now),
            alooma_core::Action::Transmit { max } => {
                let n = ring.transmit(max).len();
                sender.on_sent(now, n, &mut ring);
            }
            _ => {}
        }
        while ring.poll_notification().is_some() {}
        while sender.poll_notification().is_some() {}
    }
    ARMED.with(|a| a.set(false));

    assert_eq!(
        ALLOCS.load(Ordering::Relaxed),
        0,
        "allocations while reporting"
    );
    assert_eq!(accepted as u64, n);
    assert_eq!(ring.stats().accepted, n);
    assert!(ring.stats().sent > n * 9 / 10);
}
