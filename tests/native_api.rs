//! The native API: typed refusals with notifications, bad configuration,
//! many producers, an idle sender that sleeps, close and drop.

use alooma::{BuildError, ReportError, Sdk};
use alooma_core::{ConfigProblem, Kind, Notification as N};
use alooma_tests::collector::Collector;
use alooma_tests::{ids, notes, wait_until};
use serde_json::json;
use std::time::Duration;

/// An SDK with default settings reporting to `c`.
fn sdk_for(c: &Collector) -> Sdk {
    Sdk::builder()
        .token("t")
        .server(c.server())
        .build()
        .unwrap()
}

#[test]
fn bad_events_are_refused_typed_and_notified() {
    let c = Collector::start();
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .max_event_bytes(1024)
        .on_notify(cb)
        .build()
        .unwrap();
    assert_eq!(
        sdk.report(&5),
        Err(ReportError::NotObjectOrString(Kind::Number))
    );
    assert_eq!(
        sdk.report(&[1, 2]),
        Err(ReportError::NotObjectOrString(Kind::Array))
    );
    assert!(
        matches!(sdk.report_json("{\"a\":tru}"), Err(ReportError::InvalidJson(e)) if e.offset == 8)
    );
    assert_eq!(
        sdk.report_json("[1]"),
        Err(ReportError::NotObjectOrString(Kind::Array))
    );
    assert!(
        matches!(sdk.report(&json!({"big": "x".repeat(5000)})), Err(ReportError::TooLarge { size, max: 1024 }) if size > 5000)
    );
    let mut m = std::collections::HashMap::new();
    m.insert(1, 2);
    assert!(matches!(sdk.report(&m), Err(ReportError::Unsupported(_))));
    let failed = sdk.report_many(vec![
        json!({"i": 0}),
        json!(1),
        json!("a string is fine"),
        json!(null),
    ]);
    assert_eq!(
        failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![1, 3]
    );
    sdk.report_json("  {\n  \"pretty\": true\n}\n").unwrap();
    sdk.flush(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 3));
    let lines = c.lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        alooma_tests::split_record(&lines[1]).0,
        json!({"message": "a string is fine"})
    );
    assert_eq!(
        alooma_tests::split_record(&lines[2]).0,
        json!({"pretty": true})
    );
    let st = sdk.stats();
    assert_eq!(st.rejected, 8);
    // Told once when the episode of refusals began, not per event...
    let count = |code| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|n| n.code() == code)
            .count()
    };
    assert_eq!(count(45), 1);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|n| matches!(n.event, N::EventRejected(_))));
    // ... and once with its count when it ended: the first accepted event
    // after a quiet second.
    assert_eq!(count(46), 0);
    std::thread::sleep(alooma_core::REJECT_QUIET + Duration::from_millis(50));
    sdk.report(&json!({"after": "quiet"})).unwrap();
    let ended: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|n| match n.event {
            N::RejectionsEnded { rejected } => Some(rejected),
            _ => None,
        })
        .collect();
    assert_eq!(ended, [8]);
}

#[test]
fn bad_config_lists_every_problem() {
    let (seen, cb) = notes();
    let e = Sdk::builder()
        .servers(Vec::<String>::new())
        .buffer_bytes(0)
        .batch_bytes(0)
        .on_notify(cb)
        .build()
        .unwrap_err();
    let BuildError::Config(c) = e else {
        panic!("{e}")
    };
    let p = c.problems();
    assert!(p.contains(&ConfigProblem::EmptyToken));
    assert!(p.contains(&ConfigProblem::NoServers));
    assert!(p.contains(&ConfigProblem::BufferTooSmall(0)));
    assert!(p.contains(&ConfigProblem::ZeroBatch));
    assert_eq!(seen.lock().unwrap()[0].code(), 50);
    let e = Sdk::builder()
        .token("t")
        .servers(["ok:1", "bad:port", "x:0", ":5"])
        .build()
        .unwrap_err();
    let BuildError::Config(c) = e else { panic!() };
    assert_eq!(c.problems().len(), 3, "{c}");
    assert!(c.to_string().contains("server #1"));
}

#[test]
fn token_never_in_debug_or_notifications() {
    let c = Collector::start();
    let (seen, cb) = notes();
    let sdk = Sdk::builder()
        .token("hunter2-secret")
        .server(c.server())
        .on_notify(cb)
        .build()
        .unwrap();
    sdk.report(&json!({"a": 1})).unwrap();
    sdk.flush(Duration::from_secs(5)).unwrap();
    assert!(!format!("{sdk:?}").contains("hunter2"));
    sdk.close(Duration::from_secs(2));
    for n in seen.lock().unwrap().iter() {
        assert!(!n.to_string().contains("hunter2"));
    }
}

#[test]
fn many_producers_lose_nothing() {
    let c = Collector::start();
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .when_full(alooma::WhenFull::Block)
        .buffer_bytes(1 << 20)
        .peer_buffer(Collector::UNREAD_MAX)
        .build()
        .unwrap();
    let per = 10_000u64;
    let threads: Vec<_> = (0..8u64)
        .map(|p| {
            let s = sdk.clone();
            std::thread::spawn(move || {
                for k in 0..per {
                    s.report(&json!({"p": p, "k": k})).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    sdk.flush(Duration::from_secs(30)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || c.count() as u64 >= 8 * per));
    let mut next = [0u64; 8];
    for line in c.lines() {
        let (ev, _) = alooma_tests::split_record(&line);
        let p = ev["p"].as_u64().unwrap() as usize;
        assert_eq!(
            ev["k"].as_u64().unwrap(),
            next[p],
            "producer {p} out of order"
        );
        next[p] += 1;
    }
    assert_eq!(next, [per; 8]);
}

#[test]
fn idle_sender_does_not_wake() {
    let c = Collector::start();
    let sdk = sdk_for(&c);
    sdk.report(&json!({"i": 0})).unwrap();
    sdk.flush(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() == 1));
    std::thread::sleep(Duration::from_millis(100));
    let before = sdk.stats().wakeups;
    std::thread::sleep(Duration::from_secs(1));
    let after = sdk.stats().wakeups;
    assert_eq!(
        after - before,
        0,
        "the sender thread woke {} times while idle",
        after - before
    );
    // And it still wakes for work.
    sdk.report(&json!({"i": 1})).unwrap();
    sdk.flush(Duration::from_secs(5)).unwrap();
    assert!(sdk.stats().wakeups > after);
}

#[test]
fn drop_delivers_and_close_is_final() {
    let c = Collector::start();
    let sdk = sdk_for(&c);
    assert_eq!(sdk.servers(), &[c.server()]);
    let other = sdk.clone();
    for i in 0..100u64 {
        sdk.report(&json!({"i": i})).unwrap();
    }
    drop(sdk);
    drop(other); // last handle: closes, delivering what is buffered
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 100));
    assert_eq!(ids(&c.lines()), (0..100).collect::<Vec<_>>());

    let sdk = sdk_for(&c);
    sdk.report(&json!({"i": 0})).unwrap();
    let r1 = sdk.close(Duration::from_secs(5));
    assert_eq!(r1.delivered, 1);
    assert!(r1.clean);
    assert_eq!(sdk.close(Duration::from_secs(5)), r1);
    assert_eq!(sdk.report(&json!({"i": 1})), Err(ReportError::Closed));
    assert!(!sdk.is_connected());
}

#[test]
fn sdk_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Sdk>();
}

/// A name that resolves to several addresses (`localhost`: ::1 and
/// 127.0.0.1) while the collector listens on one: every address is tried.
#[test]
fn every_resolved_address_is_tried() {
    let c = Collector::start();
    let sdk = Sdk::builder()
        .token("t")
        .server(format!("localhost:{}", c.addr.port()))
        .build()
        .unwrap();
    sdk.report(&json!({"i": 0})).unwrap();
    sdk.flush(Duration::from_secs(10)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() == 1));
}

/// Every report method stamps the caller's file and line (`#[track_caller]`
/// through the shared method macro), and `report_with` merges metadata.
#[test]
fn records_carry_the_callers_file_and_line() {
    let c = Collector::start();
    let sdk = sdk_for(&c);
    let mut lines = Vec::new();
    sdk.report(&json!({"i": 0})).unwrap();
    lines.push(line!() - 1);
    sdk.report_with(&json!({"i": 1}), &json!({"team": "a"}))
        .unwrap();
    lines.push(line!() - 2);
    sdk.report_json(r#"{"i": 2}"#).unwrap();
    lines.push(line!() - 1);
    assert!(sdk.report_many([json!({"i": 3})]).is_empty());
    lines.push(line!() - 1);
    sdk.flush(Duration::from_secs(10)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 4));
    for (k, l) in c.lines().iter().enumerate() {
        let (_, meta) = alooma_tests::split_record(l);
        assert!(
            meta["calling_file"]
                .as_str()
                .unwrap()
                .ends_with("native_api.rs"),
            "{l}"
        );
        assert_eq!(meta["calling_line"], lines[k], "{l}");
    }
    assert_eq!(alooma_tests::split_record(&c.lines()[1]).1["team"], "a");
}
