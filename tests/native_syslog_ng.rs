//! The native SDK against a real collector, syslog-ng: 100,000 events over
//! TCP and over TLS all arrive, each equal to what was reported, in order.

use alooma::{EventType, Sdk, Tls, WhenFull};
use alooma_tests::syslog::{Certs, SyslogNg};
use alooma_tests::{now_ms, report_time_ms, rich_event, split_record, temp_dir, wait_until};
use std::time::Duration;

const N: u64 = 100_000;

fn run(name: &str, tls: bool) {
    let dir = temp_dir(name);
    let certs = tls.then(|| Certs::make(&dir.join("certs")));
    let mut syslog = SyslogNg::start(&dir.join("syslog"), certs.as_ref());
    let mut b = Sdk::builder()
        .token("secret-token")
        .server(syslog.server())
        .input_label("syslog-test")
        .event_type(EventType::field("kind"))
        .when_full(WhenFull::Block);
    if let Some(c) = &certs {
        b = b.tls(Tls::ca_file(&c.ca).unwrap());
    }
    let sdk = b.build().unwrap();
    let started = now_ms();
    for i in 0..N {
        sdk.report(&rich_event(i)).unwrap();
    }
    let ended = now_ms();
    sdk.flush(Duration::from_secs(120)).unwrap();
    let report = sdk.close(Duration::from_secs(30));
    assert_eq!(report.delivered, N);
    assert_eq!(report.unsent, 0);
    assert!(report.clean, "{report:?}");
    assert!(wait_until(Duration::from_secs(60), || syslog.count()
        as u64
        >= N - 1000));
    syslog.stop(); // flushes the rest
    let lines = syslog.lines();
    assert_eq!(
        lines.len() as u64,
        N,
        "syslog-ng wrote {} lines",
        lines.len()
    );
    for (i, line) in lines.iter().enumerate() {
        let (ev, meta) = split_record(line);
        assert_eq!(ev, rich_event(i as u64), "line {i}");
        assert_eq!(meta["event_type"], ev["kind"]);
        assert_eq!(meta["input_label"], "syslog-test");
        assert_eq!(meta["input_type"], "Rust SDK");
        assert_eq!(meta["token"], "secret-token");
        assert!(meta["@uuid"].as_str().is_some_and(|u| u.len() == 36));
        let t = meta["report_time"].as_str().and_then(report_time_ms);
        assert!(t.is_some_and(|t| started <= t && t <= ended), "{meta}");
        assert_eq!(meta["calling_file"], file!());
    }
}

#[test]
fn hundred_thousand_events_over_tcp() {
    run("syslog-tcp", false);
}

#[test]
fn hundred_thousand_events_over_tls() {
    run("syslog-tls", true);
}

/// A collector whose certificate our CA did not sign: a clear TLS
/// notification, and not one event leaves in the clear or otherwise.
#[test]
fn untrusted_certificate_sends_nothing() {
    let dir = temp_dir("syslog-badcert");
    let server_certs = Certs::make(&dir.join("server"));
    let other_ca = Certs::make(&dir.join("other"));
    let syslog = SyslogNg::start(&dir.join("syslog"), Some(&server_certs));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let sdk = Sdk::builder()
        .token("t")
        .server(syslog.server())
        .tls(Tls::ca_file(&other_ca.ca).unwrap())
        .on_notify(move |n| s2.lock().unwrap().push(n.clone()))
        .build()
        .unwrap();
    for i in 0..100u64 {
        sdk.report(&rich_event(i)).unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || seen
        .lock()
        .unwrap()
        .iter()
        .any(|n| n.code() == 10)));
    let tls_note = seen
        .lock()
        .unwrap()
        .iter()
        .find(|n| n.code() == 10)
        .unwrap()
        .to_string();
    assert!(
        tls_note.contains("certificate") || tls_note.contains("Certificate"),
        "{tls_note}"
    );
    assert!(matches!(
        sdk.flush(Duration::from_millis(300)),
        Err(alooma::FlushError::Timeout { unsent: 100 })
    ));
    let st = sdk.stats();
    assert_eq!(st.sent, 0);
    assert_eq!(st.bytes_sent, 0);
    let r = sdk.close(Duration::from_millis(200));
    assert_eq!(r.unsent, 100);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(syslog.count(), 0);
}
