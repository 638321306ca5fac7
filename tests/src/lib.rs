//! Test helpers: loopback collectors we control (fault injection) and a
//! real one (syslog-ng) started from a private configuration.

pub mod collector;
pub mod relp_mock;
pub mod rsyslog;
pub mod sustained;
pub mod syslog;

use std::time::{Duration, Instant};

/// Polls `f` until it is true or `timeout` passes; returns its last value.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Fails with the command that installs `tool` when it is missing.
pub fn require_tool(tool: &str, install: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "{tool} is missing; install it with: {install}");
}

/// A fresh directory under the system temp dir for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "alooma-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Splits a received record into the event (without `_metadata`) and the
/// metadata.
pub fn split_record(line: &str) -> (serde_json::Value, serde_json::Value) {
    let mut v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let meta = v
        .as_object_mut()
        .and_then(|o| o.remove("_metadata"))
        .unwrap_or(serde_json::Value::Null);
    (v, meta)
}

/// A record's `report_time` (`YYYY-MM-DDTHH:MM:SS.mmmZ`) in Unix
/// milliseconds; `None` if it is not in that form.
pub fn report_time_ms(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let shape = b"0000-00-00T00:00:00.000Z";
    if b.len() != shape.len()
        || !b.iter().zip(shape).all(|(c, s)| match s {
            b'0' => c.is_ascii_digit(),
            _ => c == s,
        })
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t[r].parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's
    // `days_from_civil`: the inverse of what the SDK formats with.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    Some((secs * 1000 + num(20..23)?) as u64)
}

/// The wall clock now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The lines of a collector's output file so far (none if it does not
/// exist yet).
pub fn file_lines(path: &std::path::Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

/// The number of lines of a collector's output file so far.
pub fn file_line_count(path: &std::path::Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// A varied event (unicode, quotes, escapes, nesting) numbered `i`, with an
/// event type in `kind`: what the real-collector tests send.
pub fn rich_event(i: u64) -> serde_json::Value {
    let kind = ["click", "view", "buy"][(i % 3) as usize];
    serde_json::json!({
        "kind": kind,
        "i": i,
        "text": format!("event {i}: ünïcödé \"quoted\" \\ tab\t"),
        "nested": {"a": [i, i * 2], "ok": i.is_multiple_of(2)},
    })
}

/// True for an in-band loss marker record (event type `alooma_loss`).
pub fn is_marker(line: &str) -> bool {
    line.contains(r#""event_type":"alooma_loss""#)
}

/// The loss marker records' events (`refused`, `dropped_oldest`,
/// `unconfirmed`, `first_ms`, `last_ms`), in order.
pub fn markers(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter(|l| is_marker(l))
        .map(|l| {
            let (ev, meta) = split_record(l);
            assert_eq!(meta["event_type"], "alooma_loss", "{l}");
            ev
        })
        .collect()
}

/// The `i` field of every event record (loss markers skipped), in order.
pub fn ids(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter(|l| !is_marker(l))
        .map(|l| {
            split_record(l).0["i"]
                .as_u64()
                .unwrap_or_else(|| panic!("no id: {l}"))
        })
        .collect()
}

/// Checks at-least-once delivery of ids `0..n`: within each connection ids
/// only grow, every id arrives, and first arrivals are in order. Returns
/// the number of duplicates.
pub fn check_all_arrived(conns: &[Vec<String>], n: u64) -> u64 {
    let mut seen = vec![false; n as usize];
    let mut last_first = None;
    let mut dups = 0;
    for c in conns {
        let ids = ids(c);
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "reordered within a connection"
        );
        for id in ids {
            assert!(id < n, "unexpected id {id}");
            if seen[id as usize] {
                dups += 1;
            } else {
                seen[id as usize] = true;
                if let Some(l) = last_first {
                    assert!(id > l, "first arrivals out of order: {id} after {l}");
                }
                last_first = Some(id);
            }
        }
    }
    let missing: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| i)
        .collect();
    assert!(
        missing.is_empty(),
        "{} events lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    dups
}

/// Notifications collected by a callback, for assertions.
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<alooma::Notification>>>;

/// A callback that records every notification, and where it records them.
pub fn notes() -> (Seen, impl Fn(&alooma::Notification) + Send + Sync + 'static) {
    let v: Seen = Default::default();
    let v2 = v.clone();
    (v, move |n: &alooma::Notification| {
        v2.lock().unwrap().push(n.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::report_time_ms;

    #[test]
    fn report_time_parses_to_unix_millis() {
        assert_eq!(report_time_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            report_time_ms("2026-11-26T23:56:15.123Z"),
            Some(1_795_737_375_123)
        );
        assert_eq!(
            report_time_ms("2000-02-29T00:00:00.000Z"),
            Some(951_782_400_000)
        );
        for bad in [
            "",
            "2026-11-26T23:56:15Z",
            "2026-13-01T00:00:00.000Z",
            "2026-11-26 23:56:15.123Z",
        ] {
            assert_eq!(report_time_ms(bad), None, "{bad}");
        }
    }
}
