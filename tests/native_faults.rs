//! Fault injection on loopback: collectors that are down, die mid-stream,
//! reset, never read, never accept; failover. Nothing the SDK could keep is
//! lost, and `report` never waits on the network.

use alooma_core::Notification as N;
use alooma_mio::{Backoff, ReportError, Sdk, Strategy, WhenFull};
use alooma_tests::collector::{BlackHole, Collector};
use alooma_tests::{check_all_arrived, closed_port, notes, wait_until};
use serde_json::json;
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
    let codes: Vec<u16> = seen.lock().unwrap().iter().map(|n| n.code()).collect();
    assert!(codes.contains(&30) && codes.contains(&20), "{codes:?}");
}

fn stream_with_fault(fault: impl FnOnce(Collector) -> Collector) {
    let c = Collector::start();
    // Room for everything reported while the collector is away: this tests
    // loss across failures, not a full buffer.
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(32 << 20)
        .backoff(fast_backoff())
        .build()
        .unwrap();
    let n = 30_000u64;
    let s2 = sdk.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            s2.report(&json!({"i": i, "pad": "x".repeat(100)})).unwrap();
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    assert!(wait_until(Duration::from_secs(10), || c.count() > 3000));
    let c = fault(c);
    producer.join().unwrap();
    sdk.flush(Duration::from_secs(30)).unwrap();
    let st = sdk.stats();
    assert_eq!(st.accepted, n);
    assert_eq!(st.dropped_newest + st.dropped_oldest, 0);
    assert!(wait_until(Duration::from_secs(10), || {
        let conns = c.connections();
        let total: usize = conns.iter().map(Vec::len).sum();
        total as u64 >= n
    }));
    let r = sdk.close(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    let dups = check_all_arrived(&c.connections(), n);
    assert!(
        dups <= st.replayed,
        "{dups} duplicates but {} replayed",
        st.replayed
    );
    assert_eq!(r.delivered, n);
    assert!(st.disconnects >= 1);
}

#[test]
fn collector_killed_and_restarted_mid_stream() {
    stream_with_fault(|c| {
        let addr = c.kill();
        std::thread::sleep(Duration::from_millis(300));
        Collector::on(addr)
    });
}

#[test]
fn connection_reset_mid_stream() {
    stream_with_fault(|c| {
        c.reset_connections();
        c
    });
}

/// Killed while its buffers were full of unread records: those are replayed.
#[test]
fn killed_with_unread_data() {
    stream_with_fault(|c| {
        c.pause_reading(true);
        std::thread::sleep(Duration::from_millis(200));
        let addr = c.kill();
        Collector::on(addr)
    });
}

#[test]
fn collector_that_never_reads() {
    let c = Collector::start();
    c.pause_reading(true);
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(256 * 1024)
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
    assert!(
        matches!(sdk.flush(Duration::from_millis(200)), Err(alooma_mio::FlushError::Timeout { unsent }) if unsent > 0)
    );
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
    assert!(r.unsent > 0 && !r.clean);
    assert_eq!(r.dropped, full);
    assert_eq!(sdk.report(&json!({"late": 1})), Err(ReportError::Closed));
}

#[test]
fn never_reads_drop_oldest_and_block_for() {
    let c = Collector::start();
    c.pause_reading(true);
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .buffer_bytes(64 * 1024)
        .when_full(WhenFull::DropOldest)
        .build()
        .unwrap();
    for i in 0..50_000u64 {
        sdk.report(&json!({"i": i, "pad": "z".repeat(200)}))
            .unwrap();
    }
    assert!(sdk.stats().dropped_oldest > 0, "{:?}", sdk.stats());
    sdk.close(Duration::from_millis(100));

    let c2 = Collector::start();
    c2.pause_reading(true);
    let sdk = Sdk::builder()
        .token("t")
        .server(c2.server())
        .buffer_bytes(64 * 1024)
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
    assert!(r.unsent > 0);
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
