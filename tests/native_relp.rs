//! The native SDK speaking RELP to a real rsyslog (`imrelp`, Debian 12's
//! packages unpacked under `target/rsyslog`): 100,000 events arrive equal,
//! complete and in order over plain TCP and over TLS; rsyslog killed with
//! SIGKILL mid-stream and restarted loses nothing the SDK counted
//! delivered; oversized events are refused before rsyslog could truncate
//! them.

use alooma::{EventType, Protocol, ReportError, Sdk, Tls, WhenFull};
use alooma_tests::rsyslog::{Queue, Rsyslog};
use alooma_tests::syslog::Certs;
use alooma_tests::{check_all_arrived, ids, notes, rich_event, split_record, temp_dir, wait_until};
use serde_json::json;
use std::time::Duration;

const N: u64 = 100_000;

fn run(name: &str, tls: bool) {
    let dir = temp_dir(name);
    let certs = tls.then(|| Certs::make(&dir.join("certs")));
    let mut rsyslog = Rsyslog::start(&dir.join("rsyslog"), certs.as_ref(), Queue::Memory);
    let mut b = Sdk::builder()
        .token("secret-token")
        .server(rsyslog.server())
        .protocol(Protocol::Relp)
        .input_label("relp-test")
        .event_type(EventType::field("kind"))
        .when_full(WhenFull::Block);
    if let Some(c) = &certs {
        b = b.tls(Tls::ca_file(&c.ca).unwrap());
    }
    let sdk = b.build().unwrap();
    for i in 0..N {
        sdk.report(&rich_event(i)).unwrap();
    }
    sdk.flush(Duration::from_secs(120)).unwrap();
    let report = sdk.close(Duration::from_secs(30));
    assert_eq!((report.accepted, report.delivered), (N, N), "{report:?}");
    assert_eq!(report.unsent + report.unconfirmed + report.dropped, 0);
    assert!(report.clean, "{report:?}");
    assert!(wait_until(Duration::from_secs(60), || rsyslog.count()
        as u64
        >= N));
    rsyslog.stop();
    let lines = rsyslog.lines();
    assert_eq!(lines.len() as u64, N, "rsyslog wrote {} lines", lines.len());
    for (i, line) in lines.iter().enumerate() {
        let (ev, meta) = split_record(line);
        assert_eq!(ev, rich_event(i as u64), "line {i}");
        assert_eq!(meta["event_type"], ev["kind"]);
        assert_eq!(meta["input_label"], "relp-test");
        assert_eq!(meta["token"], "secret-token");
        assert!(meta["@uuid"].as_str().is_some_and(|u| u.len() == 36));
        assert_eq!(meta["calling_file"], file!());
    }
}

#[test]
fn hundred_thousand_events_over_relp() {
    run("relp-tcp", false);
}

#[test]
fn hundred_thousand_events_over_relp_tls() {
    run("relp-tls", true);
}

/// rsyslog killed with SIGKILL three times while a producer that never
/// pauses reports into a ring smaller than the traffic, each time started
/// again on the same port. With a `Direct` ruleset queue rsyslog answers
/// `200 OK` only after the line was written, so every event the SDK counts
/// delivered must be in the output.
#[test]
fn killed_rsyslog_loses_nothing_delivered() {
    const N: u64 = 150_000;
    let dir = temp_dir("relp-kill");
    let mut rsyslog = Rsyslog::start(&dir, None, Queue::Direct);
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .server(rsyslog.server())
        .protocol(Protocol::Relp)
        .buffer_bytes(1 << 20)
        .when_full(WhenFull::Block)
        .backoff(alooma::Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            jitter_percent: 20,
        })
        .on_notify(cb)
        .build()
        .unwrap();
    let producer = {
        let sdk = sdk.clone();
        std::thread::spawn(move || {
            let pad = "p".repeat(200);
            for i in 0..N {
                sdk.report(&json!({"i": i, "pad": pad})).unwrap();
            }
        })
    };
    let mut kills = 0;
    for k in 1..=3u64 {
        let goal = k * 30_000;
        assert!(
            wait_until(Duration::from_secs(120), || rsyslog.count() as u64 > goal),
            "rsyslog has {} lines",
            rsyslog.count()
        );
        // Mid-stream: frames in flight, unanswered ones among them. With
        // `Block` and no drops, records are confirmed in order: the first
        // `delivered` ids are the ones the SDK counts delivered.
        let delivered = sdk.stats().delivered;
        rsyslog.kill();
        let have: std::collections::HashSet<u64> = ids(&rsyslog.lines()).into_iter().collect();
        let missing = (0..delivered).filter(|i| !have.contains(i)).count();
        assert_eq!(
            missing, 0,
            "{missing} of {delivered} events counted delivered are not in rsyslog's output"
        );
        kills += 1;
        std::thread::sleep(Duration::from_millis(300));
        rsyslog.restart();
    }
    producer.join().unwrap();
    sdk.flush(Duration::from_secs(120)).unwrap();
    let r = sdk.close(Duration::from_secs(30));
    assert!(r.clean, "{r:?}");
    assert_eq!(r.delivered, N, "{r:?}");
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
    assert!(wait_until(Duration::from_secs(30), || rsyslog.count()
        as u64
        >= N));
    rsyslog.stop();
    let lines = rsyslog.lines();
    let dups = check_all_arrived(&by_connection(&lines), N);
    assert!(
        dups <= r.replayed,
        "{dups} duplicates > {} replayed",
        r.replayed
    );
    assert!(r.replayed > 0, "the kills replayed nothing: {r:?}");
    assert_eq!(ids(&lines).len() as u64, N + dups);
    let codes: Vec<u16> = seen.lock().unwrap().iter().map(|n| n.code()).collect();
    assert!(
        codes.iter().filter(|&&c| c == 40 || c == 30).count() >= kills,
        "{codes:?}"
    );
}

/// One output file written over several connections, cut where ids go
/// back (a replay starts a new connection; within one, ids only grow).
fn by_connection(lines: &[String]) -> Vec<Vec<String>> {
    let mut conns: Vec<Vec<String>> = vec![Vec::new()];
    let mut last = None;
    for l in lines {
        let id = split_record(l).0["i"].as_u64().unwrap();
        if last.is_some_and(|last| id <= last) {
            conns.push(Vec::new());
        }
        last = Some(id);
        conns.last_mut().unwrap().push(l.clone());
    }
    conns
}

/// The default largest event with RELP is rsyslog's default frame limit:
/// a larger event is refused (`TooLarge`), never sent to be truncated and
/// acknowledged.
#[test]
fn oversized_events_are_refused_before_rsyslog_truncates_them() {
    let dir = temp_dir("relp-size");
    let mut rsyslog = Rsyslog::start(&dir, None, Queue::Memory);
    let sdk = Sdk::builder()
        .token("t")
        .server(rsyslog.server())
        .protocol(Protocol::Relp)
        .build()
        .unwrap();
    let big = "x".repeat(9000);
    assert!(matches!(
        sdk.report(&json!({"i": 0, "big": big})),
        Err(ReportError::TooLarge { .. })
    ));
    // The largest event that is accepted: its record is within a byte of
    // the limit, and it must arrive whole.
    let fits = (7000..9000)
        .rev()
        .map(|n| "x".repeat(n))
        .find(|pad| sdk.report(&json!({"i": 1, "big": pad})).is_ok())
        .unwrap();
    assert!(fits.len() > 7500, "{}", fits.len());
    sdk.flush(Duration::from_secs(10)).unwrap();
    let r = sdk.close(Duration::from_secs(10));
    assert_eq!(r.delivered, 1, "{r:?}");
    assert!(r.rejected >= 2, "{r:?}");
    assert!(wait_until(Duration::from_secs(10), || rsyslog.count() >= 1));
    rsyslog.stop();
    let lines = rsyslog.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(split_record(&lines[0]).0["big"], fits.as_str());
}

mod misbehaving_collectors {
    //! A collector that refuses a frame, stops answering, sends garbage or
    //! `serverclose` (once): a notification each, nothing lost, nothing
    //! hangs.
    use super::*;
    use alooma_core::{Notification as N, RelpError};
    use alooma_tests::relp_mock::{Fault, RelpMock};

    const EVENTS: u64 = 5_000;

    fn sdk(server: String, cb: impl Fn(&alooma::Notification) + Send + Sync + 'static) -> Sdk {
        Sdk::builder()
            .token("t")
            .server(server)
            .protocol(Protocol::Relp)
            // 64 KiB: far less than the ~2 MB each test reports.
            .buffer_bytes(64 << 10)
            .when_full(WhenFull::Block)
            .ack_timeout(Duration::from_millis(300))
            .backoff(alooma::Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(100),
                jitter_percent: 20,
            })
            .on_notify(cb)
            .build()
            .unwrap()
    }

    /// Reports EVENTS without pausing into a ring far smaller than them,
    /// closes; everything arrives once the collector behaves, and the user
    /// was told what went wrong.
    fn run(fault: Fault, told: impl Fn(&RelpError) -> bool) {
        let mock = RelpMock::start(fault, 1_000);
        let (seen, cb) = notes();
        let sdk = sdk(mock.server(), cb);
        let pad = "p".repeat(200);
        for i in 0..EVENTS {
            sdk.report(&json!({"i": i, "pad": pad})).unwrap();
        }
        sdk.flush(Duration::from_secs(30)).unwrap();
        let r = sdk.close(Duration::from_secs(10));
        assert!(r.clean, "{r:?}");
        assert_eq!(r.delivered, EVENTS, "{r:?}");
        assert_eq!(
            r.delivered + r.unconfirmed + r.unsent + r.dropped,
            r.accepted
        );
        let conns = mock.connections();
        assert!(
            conns.len() >= 2,
            "no reconnection: {} connections",
            conns.len()
        );
        let dups = check_all_arrived(&conns, EVENTS);
        assert!(
            dups <= r.replayed,
            "{dups} duplicates > {} replayed",
            r.replayed
        );
        let seen = seen.lock().unwrap();
        let relp: Vec<&RelpError> = seen
            .iter()
            .filter_map(|n| match &n.event {
                N::RelpFailed { error, .. } => Some(error),
                _ => None,
            })
            .collect();
        assert!(relp.iter().any(|e| told(e)), "{relp:?}");
        assert!(seen
            .iter()
            .any(|n| n.code() == 41 && n.to_string().contains("RELP")));
    }

    #[test]
    fn refusal_500_is_told_with_its_text_and_replayed() {
        run(
            Fault::Refuse,
            |e| matches!(e, RelpError::Refused { code: 500, text } if text.as_str() == "out of space"),
        );
    }

    #[test]
    fn silence_times_out_and_replays() {
        run(Fault::Silent, |e| *e == RelpError::NoAnswer);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        run(Fault::Garbage, |e| matches!(e, RelpError::Malformed(_)));
    }

    #[test]
    fn serverclose_is_told_and_replayed() {
        run(Fault::ServerClose, |e| *e == RelpError::ServerClose);
    }

    /// A collector that never answers a record: `close` ends by its
    /// deadline, nothing counted delivered.
    #[test]
    fn close_ends_by_its_deadline_when_nothing_is_answered() {
        let mock = RelpMock::start(Fault::SilentAlways, 0);
        let (_seen, cb) = notes();
        let sdk = sdk(mock.server(), cb);
        for i in 0..100u64 {
            sdk.report(&json!({"i": i})).unwrap();
        }
        let t = std::time::Instant::now();
        let r = sdk.close(Duration::from_secs(2));
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert!(!r.clean, "{r:?}");
        assert_eq!(r.delivered, 0, "{r:?}");
        assert_eq!(r.unconfirmed + r.unsent, 100, "{r:?}");
        assert_eq!(
            r.delivered + r.unconfirmed + r.unsent + r.dropped,
            r.accepted
        );
        assert_eq!(mock.count(), 0);
    }

    /// A collector that does not offer `syslog` is refused with a clear
    /// notification, retried with backoff, and nothing is counted
    /// delivered.
    #[test]
    fn collector_without_syslog_is_refused() {
        let mock = RelpMock::start(Fault::NoSyslog, 0);
        let (seen, cb) = notes();
        let sdk = sdk(mock.server(), cb);
        for i in 0..10u64 {
            sdk.report(&json!({"i": i})).unwrap();
        }
        assert!(wait_until(Duration::from_secs(10), || sdk
            .stats()
            .connect_failures
            >= 2));
        let r = sdk.close(Duration::from_secs(1));
        assert_eq!((r.delivered, r.unsent), (0, 10), "{r:?}");
        assert_eq!(
            r.delivered + r.unconfirmed + r.unsent + r.dropped,
            r.accepted
        );
        assert_eq!(mock.count(), 0);
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().any(|n| matches!(
                n.event,
                N::RelpFailed {
                    error: RelpError::NoSyslog,
                    ..
                }
            ) && n.to_string().contains("does not offer the syslog command")),
            "{:?}",
            seen.iter().map(|n| n.to_string()).collect::<Vec<_>>()
        );
    }
}

/// The loss-accounting fault family over RELP: a producer that never
/// pauses (until the faults are done) reports into a 256 KiB ring, far
/// smaller than the traffic, shedding load (`DropOldest` or `DropNewest`),
/// while rsyslog is killed (SIGKILL) five times, or stopped (SIGSTOP) 2 s
/// and then killed; each time restarted on the same port. Then the close,
/// and the reader's rule on rsyslog's output: the newest marker equals the
/// SDK's totals for every cause (with a `Direct` queue, whose answer
/// follows the write), is never above them (rsyslog's default queue,
/// which may lose what it answered), duplicates are the same bytes, and
/// the counts partition what was reported.
mod loss_told {
    use super::*;
    use alooma_tests::sustained::{check_markers, Counts, Output};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[derive(Debug, Clone, Copy)]
    enum Fault {
        KilledFiveTimes,
        StoppedThenKilled,
    }

    /// Lines rsyslog writes between two faults.
    const EVERY: usize = 10_000;

    fn run(policy: WhenFull, queue: Queue, fault: Fault) {
        let dir = temp_dir(&format!("relp-loss-{policy:?}-{queue:?}-{fault:?}"));
        let mut rsyslog = Rsyslog::start(&dir, None, queue);
        let sdk = Sdk::builder()
            .token("t")
            .server(rsyslog.server())
            .protocol(Protocol::Relp)
            .buffer_bytes(256 << 10)
            .when_full(policy)
            .backoff(alooma::Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(200),
                jitter_percent: 20,
            })
            .build()
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let producer = {
            let (sdk, done) = (sdk.clone(), done.clone());
            std::thread::spawn(move || {
                let pad = "p".repeat(200);
                let (mut i, mut refused) = (0u64, 0u64);
                while !done.load(Ordering::SeqCst) {
                    match sdk.report(&json!({"i": i, "pad": pad})) {
                        Ok(()) => {}
                        Err(ReportError::BufferFull { .. }) => refused += 1,
                        Err(e) => panic!("{e}"),
                    }
                    i += 1;
                }
                (i, refused)
            })
        };
        let mut faults = 0;
        let times = match fault {
            Fault::KilledFiveTimes => 5,
            Fault::StoppedThenKilled => 1,
        };
        for k in 1..=times {
            let goal = k * EVERY;
            assert!(
                wait_until(Duration::from_secs(120), || rsyslog.count() > goal),
                "rsyslog has {} lines",
                rsyslog.count()
            );
            if let Fault::StoppedThenKilled = fault {
                rsyslog.pause();
                std::thread::sleep(Duration::from_secs(2));
            }
            rsyslog.kill();
            faults += 1;
            std::thread::sleep(Duration::from_millis(300));
            rsyslog.restart();
        }
        // A little more traffic after the last restart, then the end.
        let goal = rsyslog.count() + EVERY;
        assert!(wait_until(Duration::from_secs(120), || rsyslog.count() > goal));
        done.store(true, Ordering::SeqCst);
        let (n, refused) = producer.join().unwrap();
        let r = sdk.close(Duration::from_secs(60));
        let st = sdk.stats();
        assert_eq!(faults, times);
        assert!(r.clean, "rsyslog is up at the close: {r:?}");
        // The last marker goes once every frame is answered (answers may
        // still prove discarded records), so its totals are the final ones.
        assert!(r.loss_told, "{r:?}");
        assert_eq!(r.accepted, n, "{r:?}");
        assert_eq!(st.dropped_newest, refused, "{st:?}");
        assert_eq!(
            r.delivered + r.unconfirmed + r.unsent + r.dropped,
            r.accepted,
            "the counts do not add up: {r:?}"
        );
        assert!(r.dropped > 0, "the ring never filled: {r:?}");
        // rsyslog writes out what it queued, then the output is complete.
        std::thread::sleep(Duration::from_millis(300));
        rsyslog.stop();
        // A kill can cut off the line rsyslog was writing (see
        // `Rsyslog::lines`); with `Direct` only one not yet answered.
        let lines = rsyslog.lines();
        let torn = rsyslog.torn();
        let k = Counts::native(&r, &st);
        let output = match queue {
            Queue::Direct => Output::Exact,
            Queue::Memory => Output::AtMost,
        };
        let markers = check_markers(&lines, &k, output);
        assert!(markers > 0, "no marker arrived: {r:?}");
        println!(
            "{policy:?} {queue:?} {fault:?}: {k:?}, {markers} markers arrived, {torn} torn lines"
        );
        let mut seen = vec![false; n as usize];
        let mut dups = 0;
        for id in ids(&lines) {
            if std::mem::replace(&mut seen[id as usize], true) {
                dups += 1;
            }
        }
        let unique = seen.iter().filter(|s| **s).count() as u64;
        assert!(
            dups <= r.replayed,
            "{dups} duplicates, {} replayed",
            r.replayed
        );
        if queue == Queue::Direct {
            // Every event counted delivered is in the output.
            assert!(unique >= r.delivered, "{unique} arrived, but {r:?}");
        }
    }

    #[test]
    fn drop_oldest_killed_five_times_direct() {
        run(WhenFull::DropOldest, Queue::Direct, Fault::KilledFiveTimes);
    }

    #[test]
    fn drop_newest_killed_five_times_direct() {
        run(WhenFull::DropNewest, Queue::Direct, Fault::KilledFiveTimes);
    }

    #[test]
    fn drop_oldest_stopped_then_killed_direct() {
        run(
            WhenFull::DropOldest,
            Queue::Direct,
            Fault::StoppedThenKilled,
        );
    }

    #[test]
    fn drop_newest_stopped_then_killed_direct() {
        run(
            WhenFull::DropNewest,
            Queue::Direct,
            Fault::StoppedThenKilled,
        );
    }

    #[test]
    fn drop_oldest_killed_five_times_default_queue() {
        run(WhenFull::DropOldest, Queue::Memory, Fault::KilledFiveTimes);
    }

    #[test]
    fn drop_newest_stopped_then_killed_default_queue() {
        run(
            WhenFull::DropNewest,
            Queue::Memory,
            Fault::StoppedThenKilled,
        );
    }
}
