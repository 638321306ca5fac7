//! Reporting an event allocates nothing: a counting global allocator sees
//! zero allocations while events are validated, encoded into the ring,
//! refused when the ring is full, and carried by the core's driver loop
//! (transmitted, confirmed, loss markers written), on this thread.

use alooma_core::{
    Config, Driver, EventType, Failure, Instant, Link, Received, Ring, Stamp, UnixMillis,
};
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

/// A link that takes every byte, a few at a time, and then stalls for a
/// while (so that the ring fills and refuses).
struct Sink {
    taken: u64,
    stalled: bool,
}

impl Link for Sink {
    type Detail = &'static str;
    fn connect(&mut self, _: usize) -> Result<(), Failure<&'static str>> {
        Ok(())
    }
    fn poll_connect(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn write(&mut self, b: &[u8]) -> Result<usize, Failure<&'static str>> {
        if self.stalled {
            return Ok(0);
        }
        let n = b.len().min(700);
        self.taken += n as u64;
        Ok(n)
    }
    fn writable(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(!self.stalled)
    }
    fn flush(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn read(&mut self, _: &mut [u8]) -> Result<Received, Failure<&'static str>> {
        Ok(Received::Nothing)
    }
    fn shutdown(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn acked(&mut self) -> Option<u64> {
        Some(self.taken)
    }
    fn close(&mut self) {}
}

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
    // A record is confirmed once acknowledged plus 2 KiB.
    cfg.peer_buffer = Some(2048);
    cfg.validate(8192).unwrap();
    let max = cfg.max_event(8192);
    let enc = cfg.encoder();
    let mut ring: Ring<[u8; 8192]> = Ring::new();
    let link = Sink {
        taken: 0,
        stalled: false,
    };
    let mut driver = Driver::with_marker(cfg.sender(), cfg.wire(), link, [0u8; 1024], 1, Some(enc));
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
            ring.push_with(false, max, |o| {
                enc.encode_json(text, Some(&meta), &stamp, o)
            })
        } else {
            ring.push_with(false, max, |o| {
                enc.encode_value(&ev, alooma_core::NO_META, &stamp, o)
            })
        };
        accepted += r.is_ok() as usize;
        // An invalid event is refused without allocating either.
        let _ = ring.push_with(false, max, |o| {
            enc.encode_json(b"[1,2", alooma_core::NO_META, &stamp, o)
        });
        // Every 50 reports the link stalls for 50: the ring fills, refuses,
        // and a loss marker follows.
        driver.link_mut().stalled = (i / 50) % 2 == 1;
        ring.set_clock(1_700_000_000_000 + i);
        driver.poll(Instant::from_millis(i), &mut ring);
        while ring.poll_notification().is_some() {}
        while driver.poll_notification().is_some() {}
    }
    ARMED.with(|a| a.set(false));

    assert_eq!(
        ALLOCS.load(Ordering::Relaxed),
        0,
        "allocations while reporting"
    );
    let st = ring.stats();
    assert_eq!(st.accepted, accepted as u64);
    assert_eq!(st.accepted + st.dropped_newest, n);
    assert!(st.dropped_newest > 0, "{st:?}");
    assert!(st.delivered > 0, "{st:?}");
    assert!(driver.stats().loss_markers > 0);
    assert_eq!(
        st.delivered + st.discarded + st.window + st.rewound + st.unsent + st.dropped_oldest,
        st.accepted
    );
}
