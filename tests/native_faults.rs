//! Fault injection on loopback: collectors that are down, die mid-stream
//! with unread data, reset again and again, stay down between connections,
//! never read, never accept; failover. Under sustained load with a ring far
//! smaller than the traffic: `Block` loses nothing, and under every policy
//! every count is true (`delivered` only what the collector has) and they
//! add up. `report` never waits on the network.

use alooma::{Backoff, ReportError, Sdk, Strategy, WhenFull};
use alooma_core::Notification as N;
use alooma_tests::collector::{BlackHole, Collector};
use alooma_tests::sustained::{
    self, check, killed_five_times, resets, resets_and_down, stopped_then_killed, ten_resets,
    three_resets, Arrived, Counts, Schedule, PAD, RING,
};
use alooma_tests::{check_all_arrived, closed_port, notes, wait_until};
use serde_json::json;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn fast_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        jitter_percent: 20,
    }
}

#[test]
fn collector_down_at_start() {
    let port = closed_port();
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .server(format!("127.0.0.1:{port}"))
        .backoff(fast_backoff())
        .on_notify(cb)
        .build()
        .unwrap();
    for i in 0..1000u64 {
        sdk.report(&json!({"i": i})).unwrap();
    }
    assert!(wait_until(Duration::from_secs(5), || sdk
        .stats()
        .connect_failures
        >= 2));
    assert!(!sdk.is_connected());
    assert_eq!(sdk.stats().unsent, 1000);
    let c = Collector::on(([127, 0, 0, 1], port).into());
    sdk.flush(Duration::from_secs(10)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 1000));
    assert_eq!(check_all_arrived(&c.connections(), 1000), 0);
    let r = sdk.close(Duration::from_secs(5));
    assert!(r.clean, "{r:?}");
    assert_eq!(r.delivered, 1000, "{r:?}");
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
    let codes: Vec<u16> = seen.lock().unwrap().iter().map(|n| n.code()).collect();
    assert!(codes.contains(&30) && codes.contains(&20), "{codes:?}");
}

/// The sustained-load fault family (see `alooma_tests::sustained`) on the
/// native SDK. The SDK assumes of the collector only what is true of it:
/// `peer_buffer` is what it can hold unread.
fn sustained<F>(policy: WhenFull, c: Collector, faults: F, expect: usize) -> (Arrived, Counts)
where
    F: FnOnce(Collector, &AtomicBool) -> (Collector, usize) + Send + 'static,
{
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(RING)
        .peer_buffer(Collector::UNREAD_MAX)
        .when_full(policy)
        .backoff(fast_backoff())
        .build()
        .unwrap();
    let s2 = sdk.clone();
    let producer = std::thread::spawn(move || {
        let pad = "x".repeat(PAD);
        let mut refused = 0u64;
        for i in 0..sustained::N {
            match s2.report(&json!({"i": i, "pad": pad})) {
                Ok(()) => {}
                Err(ReportError::BufferFull { .. }) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        refused
    });
    let schedule = Schedule::start(c, faults);
    let refused = producer.join().unwrap();
    let r = sdk.close(Duration::from_secs(60));
    let (c, done) = schedule.finish();
    // Block delivers everything, so every scheduled fault happens; a drop
    // policy may finish first.
    if policy == WhenFull::Block {
        assert_eq!(done, expect, "faults that happened");
    }
    let st = sdk.stats();
    assert!(r.clean, "the collector is up at the close: {r:?}");
    assert_eq!(st.dropped_newest, refused);
    // Every fault that hit the stream cost a connection.
    assert!(st.disconnects >= done as u64, "{done} faults: {st:?}");
    let k = Counts::native(&r, &st);
    (check(&c, &k), k)
}

#[test]
fn block_resets_every_5000_lines() {
    let (a, k) = sustained(WhenFull::Block, resets(), ten_resets, 10);
    sustained::check_block(&a, &k);
}

#[test]
fn block_killed_five_times() {
    let (a, k) = sustained(WhenFull::Block, Collector::start(), killed_five_times, 5);
    sustained::check_block(&a, &k);
}

#[test]
fn block_down_between_connections() {
    let (a, k) = sustained(WhenFull::Block, resets_and_down(), three_resets, 3);
    sustained::check_block(&a, &k);
}

#[test]
fn drop_newest_resets_every_5000_lines() {
    let (_, k) = sustained(WhenFull::DropNewest, resets(), ten_resets, 10);
    assert_eq!(k.unconfirmed + k.unsent, 0, "{k:?}");
}

#[test]
fn drop_newest_killed_five_times() {
    sustained(
        WhenFull::DropNewest,
        Collector::start(),
        killed_five_times,
        5,
    );
}

#[test]
fn drop_newest_stopped_then_killed() {
    sustained(
        WhenFull::DropNewest,
        Collector::start(),
        stopped_then_killed,
        1,
    );
}

#[test]
fn drop_oldest_stopped_then_killed() {
    sustained(
        WhenFull::DropOldest,
        Collector::start(),
        stopped_then_killed,
        1,
    );
}

#[test]
fn drop_newest_down_between_connections() {
    sustained(WhenFull::DropNewest, resets_and_down(), three_resets, 3);
}

#[test]
fn drop_oldest_resets_every_5000_lines() {
    sustained(WhenFull::DropOldest, resets(), ten_resets, 10);
}

#[test]
fn drop_oldest_killed_five_times() {
    sustained(
        WhenFull::DropOldest,
        Collector::start(),
        killed_five_times,
        5,
    );
}

#[test]
fn drop_oldest_down_between_connections() {
    sustained(WhenFull::DropOldest, resets_and_down(), three_resets, 3);
}

#[test]
fn collector_that_never_reads() {
    let c = Collector::start();
    c.pause_reading(true);
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(1 << 20)
        .peer_buffer(Collector::UNREAD_MAX)
        .on_notify(cb)
        .build()
        .unwrap();
    let mut full = 0;
    for i in 0..200_000u64 {
        match sdk.report(&json!({"i": i, "pad": "y".repeat(200)})) {
            Ok(()) => {}
            Err(ReportError::BufferFull { .. }) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(full > 0);
    let st = sdk.stats();
    assert_eq!(st.dropped_newest, full);
    // What the sockets took is sent, but nothing is confirmed: the window
    // holds it and the ring is full of it.
    assert_eq!(st.delivered, 0, "{st:?}");
    assert!(st.in_window > 0, "{st:?}");
    if st.unsent > 0 {
        assert!(matches!(
            sdk.flush(Duration::from_millis(200)),
            Err(alooma::FlushError::Timeout { unsent }) if unsent > 0
        ));
    }
    // Once per episode: BUFFER_FULL and BUFFER_FREED alternate. (The
    // kernel's socket buffers may still take bytes while the loop runs, so
    // there can be more than one episode.)
    let codes: Vec<u16> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.code())
        .filter(|c| *c == 48 || *c == 49)
        .collect();
    assert_eq!(codes.first(), Some(&48), "{codes:?}");
    assert!(
        codes.windows(2).all(|w| w[0] != w[1]),
        "BUFFER_FULL once per episode: {codes:?}"
    );
    let r = sdk.close(Duration::from_millis(300));
    // Never read, never closed: nothing counts as delivered.
    assert!(r.unconfirmed + r.unsent > 0 && !r.clean, "{r:?}");
    assert_eq!(r.delivered, 0, "{r:?}");
    assert_eq!(r.dropped, full);
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
    assert_eq!(sdk.report(&json!({"late": 1})), Err(ReportError::Closed));
}

#[test]
fn never_reads_drop_oldest_and_block_for() {
    let c = Collector::start();
    c.pause_reading(true);
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(1 << 20)
        .peer_buffer(Collector::UNREAD_MAX)
        .when_full(WhenFull::DropOldest)
        .build()
        .unwrap();
    for i in 0..50_000u64 {
        sdk.report(&json!({"i": i, "pad": "z".repeat(200)}))
            .unwrap();
    }
    let st = sdk.stats();
    // The window went first (sent, never confirmed), then unsent events.
    assert!(st.discarded > 0 && st.dropped_oldest > 0, "{st:?}");
    assert_eq!(
        st.delivered + st.unconfirmed + st.unsent + st.dropped,
        st.accepted
    );
    sdk.close(Duration::from_millis(100));

    let c2 = Collector::start();
    c2.pause_reading(true);
    let sdk = Sdk::builder()
        .token("t")
        .server(c2.server())
        .buffer_bytes(1 << 20)
        .peer_buffer(Collector::UNREAD_MAX)
        .when_full(WhenFull::BlockFor(Duration::from_millis(20)))
        .build()
        .unwrap();
    let mut timeouts = 0;
    for i in 0..50_000u64 {
        match sdk.report(&json!({"i": i, "pad": "z".repeat(200)})) {
            Ok(()) => {}
            Err(ReportError::Timeout) => {
                timeouts += 1;
                if timeouts == 3 {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(timeouts, 3);
    // Only the reports that gave up count as dropped, not every retry.
    assert_eq!(sdk.stats().dropped_newest, 3);
    let r = sdk.close(Duration::from_millis(100));
    assert!(r.unconfirmed + r.unsent > 0 && r.delivered == 0, "{r:?}");
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
}

#[test]
fn failover_to_the_live_server() {
    let c = Collector::start();
    let dead = format!("127.0.0.1:{}", closed_port());
    let sdk = Sdk::builder()
        .token("t")
        .servers([dead, c.server()])
        .strategy(Strategy::PreferFirst)
        .build()
        .unwrap();
    for i in 0..500u64 {
        sdk.report(&json!({"i": i})).unwrap();
    }
    sdk.flush(Duration::from_secs(10)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 500));
    assert_eq!(check_all_arrived(&c.connections(), 500), 0);
    assert!(sdk.stats().connect_failures >= 1);
    let r = sdk.close(Duration::from_secs(5));
    assert_eq!((r.accepted, r.delivered), (500, 500), "{r:?}");
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
}

#[test]
fn connect_that_never_completes_times_out() {
    let hole = BlackHole::start();
    let c = Collector::start();
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .servers([hole.server(), c.server()])
        .strategy(Strategy::PreferFirst)
        .connect_timeout(Duration::from_millis(300))
        .on_notify(cb)
        .build()
        .unwrap();
    sdk.report(&json!({"i": 0})).unwrap();
    sdk.flush(Duration::from_secs(10)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 1));
    let timed_out = seen.lock().unwrap().iter().any(|n| {
        matches!(
            n.event,
            N::ConnectFailed {
                server: 0,
                error: alooma_core::NetError::TimedOut
            }
        ) && n.server.as_deref() == Some(&hole.server()[..])
    });
    assert!(timed_out, "{:?}", seen.lock().unwrap());
}

/// Backoff sees the collector's health: a collector that resets the
/// connection after every 2,000 lines, 30 times, and is back 0.1 s later,
/// under `Block` and the default backoff (0.1 s to 30 s). Each connection
/// made progress, so the backoff starts over after each: the reconnect
/// delays the SDK chose add up to under 5 s (its own count, not a clock;
/// before: 633 s, the delay grew to the 30 s cap). On loopback the SDK's
/// immediate reconnect often lands in the dying listener's backlog and is
/// reset too; the first step after it then must reach the collector, which
/// needs the step measured from when the reset was seen (the sender thread
/// reads the clock at each step of a poll).
#[test]
fn backoff_starts_over_after_connections_that_made_progress() {
    const N: u64 = 80_000;
    let c = Collector::with_faults(sustained_faults(2_000, 30, Duration::from_millis(100)));
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(RING)
        .peer_buffer(Collector::UNREAD_MAX)
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    let pad = "x".repeat(PAD);
    for i in 0..N {
        sdk.report(&json!({"i": i, "pad": pad})).unwrap();
    }
    let r = sdk.close(Duration::from_secs(120));
    let st = sdk.stats();
    assert_eq!(c.resets(), 30, "{st:?}");
    assert!(r.clean && r.delivered == N, "{r:?}");
    assert!(st.disconnects >= 30, "{st:?}");
    println!("{} ms of backoff over 30 resets", st.backoff_ms);
    assert!(
        st.backoff_ms < 5_000,
        "{} ms of backoff: {st:?}",
        st.backoff_ms
    );
    check_all_arrived(&c.connections(), N);
}

/// A collector that refuses every connection still gets the full backoff:
/// 10 ms doubling per failure, so after 8 refused connections the SDK has
/// chosen at least 10 + 20 + … + 1,280 ms (jitter only lengthens it below
/// the cap).
#[test]
fn refused_connections_get_the_full_backoff() {
    let port = closed_port();
    let sdk = Sdk::builder()
        .token("t")
        .server(format!("127.0.0.1:{port}"))
        .backoff(Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(2),
            jitter_percent: 20,
        })
        .build()
        .unwrap();
    sdk.report(&json!({"i": 0})).unwrap();
    assert!(wait_until(Duration::from_secs(30), || sdk
        .stats()
        .connect_failures
        >= 8));
    let st = sdk.stats();
    assert!(st.backoff_ms >= 2_549, "{st:?}");
    let _ = sdk.close(Duration::from_millis(100));
}

fn sustained_faults(every: usize, times: usize, down: Duration) -> alooma_tests::collector::Faults {
    alooma_tests::collector::Faults {
        reset_every: Some((every, times)),
        down_for: Some(down),
    }
}
