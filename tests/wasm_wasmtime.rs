//! The Wasm SDK under a real runtime: guests built for wasm32-wasip2 run
//! under the wasmtime CLI (48.0.8) and report to loopback collectors.
//! A program delivers 10,000 events (and again across a collector restart);
//! the edge-function component answers 200 curl requests under
//! `wasmtime serve`, with and without instance reuse; a runtime that denies
//! sockets or name lookup gets a clear notification and no trap.

use alooma_tests::collector::Collector;
use alooma_tests::rsyslog::{Queue, Rsyslog};
use alooma_tests::sustained::{
    self, check, killed_five_times, resets, resets_and_down, ten_resets, three_resets, Arrived,
    Causes, Counts, Schedule, PAD, RING,
};
use alooma_tests::{
    check_all_arrived, closed_port, now_ms, report_time_ms, require_tool, split_record, wait_until,
};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const WASMTIME: &str = "48.0.8";
const INSTALL: &str = "cargo install wasmtime-cli@48.0.8 --locked";

fn require_wasmtime() {
    require_tool("wasmtime", INSTALL);
    let v = Command::new("wasmtime").arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.contains(WASMTIME),
        "wasmtime {WASMTIME} is needed, found {v}; install it with: {INSTALL}"
    );
}

/// The guests, built once per test run (their own target directory: the
/// outer cargo holds the default one's lock).
fn guests() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = root.join("target/wasm-tests");
        let build = |what: &[&str]| {
            let st = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "-q",
                    "--profile",
                    "wasm",
                    "--target",
                    "wasm32-wasip2",
                ])
                .args(what)
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&root)
                .status()
                .expect("cargo runs");
            assert!(
                st.success(),
                "building the guests failed (needs: rustup target add wasm32-wasip2)"
            );
        };
        build(&[
            "-p",
            "alooma-wasm",
            "--example",
            "deliver",
            "--features",
            "relp",
        ]);
        build(&[
            "-p",
            "alooma-wasm",
            "--example",
            "front_doors",
            "--features",
            "tracing,log",
        ]);
        build(&["-p", "alooma-edge-function"]);
        target.join("wasm32-wasip2/wasm")
    })
}

fn deliver_wasm() -> PathBuf {
    guests().join("examples/deliver.wasm")
}

/// Waits for a child at most `limit`, killing it after; its output (read
/// as it comes, so a talkative child never blocks on a full pipe).
fn finish(mut child: Child, limit: Duration) -> Output {
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn run_deliver(flags: &[&str], args: &[String], limit: Duration) -> (bool, String) {
    run_guest(&deliver_wasm(), flags, args, limit)
}

/// Runs a guest program under `wasmtime run`; its success and output.
fn run_guest(wasm: &Path, flags: &[&str], args: &[String], limit: Duration) -> (bool, String) {
    require_wasmtime();
    let child = Command::new("wasmtime")
        .arg("run")
        .args(flags)
        .arg(wasm)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, limit);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The guest's `close:` line as `key=value` pairs; its four counts add up
/// to `accepted`, always.
fn close_line(out: &str) -> Vec<(String, String)> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("close: "))
        .unwrap_or_else(|| panic!("no close report in:\n{out}"));
    let kv: Vec<(String, String)> = line
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let n = |k: &str| field(&kv, k).parse::<u64>().unwrap();
    assert_eq!(
        n("delivered") + n("unconfirmed") + n("unsent") + n("dropped"),
        n("accepted"),
        "the counts do not add up: {line}"
    );
    kv
}

fn field<'a>(kv: &'a [(String, String)], k: &str) -> &'a str {
    kv.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {k} in {kv:?}"))
}

fn check_readings(lines: &[String]) {
    let kinds = ["temperature", "humidity", "pressure"];
    for l in lines {
        let (ev, meta) = split_record(l);
        let i = ev["i"].as_u64().unwrap();
        assert_eq!(ev["kind"], kinds[i as usize % 3], "{l}");
        assert_eq!(ev["value"].as_f64().unwrap(), i as f64 / 4.0, "{l}");
        assert_eq!(meta["input_label"], "Rust SDK", "{l}");
        assert_eq!(meta["token"], "wasm-test", "{l}");
    }
}

#[test]
fn guest_delivers_10000_events_in_order() {
    let c = Collector::start();
    let n = 10_000u64;
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y"],
        &[c.server(), n.to_string()],
        Duration::from_secs(120),
    );
    assert!(ok, "guest failed:\n{out}");
    let kv = close_line(&out);
    assert_eq!(field(&kv, "delivered"), n.to_string(), "{out}");
    assert_eq!(field(&kv, "unsent"), "0", "{out}");
    assert_eq!(field(&kv, "clean"), "true", "{out}");
    assert!(wait_until(Duration::from_secs(10), || c.count() as u64 >= n));
    let conns = c.connections();
    assert_eq!(conns.len(), 1, "one connection expected");
    assert_eq!(check_all_arrived(&conns, n), 0);
    assert_eq!(conns[0].len() as u64, n);
    check_readings(&conns[0]);
}

/// RELP from the guest to a real rsyslog: 100,000 events arrive equal,
/// complete and in order, each confirmed by rsyslog's `200 OK`.
/// `tracing` and `log` as the guest's front doors: the real macros through
/// `alooma_wasm::TracingLayer` and `alooma_wasm::Logger`, each record
/// checked field by field; 20,000 more `tracing` events through a 64 KiB
/// buffer under `Block` with the guest never polling; and a notification
/// callback that itself emits a `tracing` event (an SDK call inside an SDK
/// call, which must neither panic nor deadlock). Everything accepted is
/// delivered, in order.
#[test]
fn guest_front_doors_tracing_and_log() {
    let c = Collector::start();
    let n = 20_000u64;
    let started = now_ms();
    let (ok, out) = run_guest(
        &guests().join("examples/front_doors.wasm"),
        &["-S", "inherit-network=y"],
        &[c.server(), n.to_string()],
        Duration::from_secs(120),
    );
    assert!(ok, "guest failed:\n{out}");
    let kv = close_line(&out);
    let accepted: u64 = field(&kv, "accepted").parse().unwrap();
    assert_eq!(field(&kv, "delivered"), accepted.to_string(), "{out}");
    assert_eq!(field(&kv, "clean"), "true", "{out}");
    let lines: Vec<u32> = out
        .lines()
        .find_map(|l| l.strip_prefix("lines: "))
        .unwrap_or_else(|| panic!("no lines in:\n{out}"))
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(wait_until(Duration::from_secs(10), || c.count() as u64 >= accepted));
    let records: Vec<serde_json::Value> = c
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as u64, accepted);
    // `report_time` from the guest's wall clock (`wasi:clocks`): the
    // host's time while it ran, to the millisecond.
    let ended = now_ms();
    for r in &records {
        let t = r["_metadata"]["report_time"].as_str().unwrap_or("");
        let ms = report_time_ms(t).unwrap_or_else(|| panic!("report_time {t:?}"));
        assert!(started <= ms && ms <= ended, "{t} outside the run");
    }
    let of_type = |t: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["_metadata"]["event_type"] == t)
            .collect()
    };
    // `tracing` and `log` both take the event type from the target (here
    // the module path) unless a field names it.
    let a: Vec<_> = of_type("front_doors")
        .into_iter()
        .filter(|r| r["user"] == "ann")
        .collect();
    assert_eq!(a.len(), 1, "{a:?}");
    let a = a[0];
    assert_eq!((&a["user"], &a["amount"]), (&"ann".into(), &12.into()));
    assert_eq!(
        (&a["message"], &a["level"]),
        (&"purchase".into(), &"INFO".into())
    );
    assert_eq!(a["_metadata"]["calling_line"], lines[0]);
    assert!(a["_metadata"]["calling_file"]
        .as_str()
        .unwrap()
        .ends_with("front_doors.rs"));
    let b = of_type("stock");
    assert_eq!(b.len(), 1);
    let b = b[0];
    assert_eq!(b["message"], "low stock: widgets");
    assert_eq!(
        (&b["left"], &b["target"]),
        (&(-3).into(), &"shop::stock".into())
    );
    assert_eq!(b["_metadata"]["calling_line"], lines[1]);
    assert_eq!(
        b["spans"],
        serde_json::json!([
            {"name": "request", "id": 7, "path": "/buy"},
            {"name": "db", "table": "orders"}
        ])
    );
    // `log`: debug is below the level.
    let logged: Vec<_> = of_type("front_doors")
        .into_iter()
        .filter(|r| r["user"] == "bob")
        .collect();
    assert_eq!(logged.len(), 1);
    let l = logged[0];
    assert_eq!((&l["message"], &l["tries"]), (&"login".into(), &2.into()));
    assert_eq!(l["_metadata"]["calling_line"], lines[2]);
    assert!(records
        .iter()
        .all(|r| r["message"] != "below the level: not reported"));
    // The bulk events, all of them, in order.
    let bulk: Vec<u64> = of_type("guest::bulk")
        .iter()
        .map(|r| r["i"].as_u64().unwrap())
        .collect();
    assert_eq!(bulk, (0..n).collect::<Vec<_>>());
    // The notices the callback sent through `tracing`, the SDK's own
    // connection among them.
    let notices = of_type("guest::notice");
    assert!(
        notices.iter().any(|r| r["code"] == 20),
        "no CONNECTED notice among {notices:?}"
    );
    assert_eq!(
        accepted,
        3 + n + notices.len() as u64,
        "every record is one of the calls above"
    );
}

#[test]
fn guest_delivers_100000_events_over_relp_to_rsyslog() {
    let dir = alooma_tests::temp_dir("wasm-relp");
    let mut rsyslog = Rsyslog::start(&dir, None, Queue::Memory);
    let n = 100_000u64;
    let args: Vec<String> = [
        rsyslog.server(),
        n.to_string(),
        "0".into(),
        "30000".into(),
        "10000".into(),
        // 4 MiB ring, far less than the 20 MB reported (the replay limit
        // plays no part with RELP).
        (4 << 20).to_string(),
        (1 << 20).to_string(),
        "block".into(),
        "0".into(),
        "relp".into(),
    ]
    .into();
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y"],
        &args,
        Duration::from_secs(300),
    );
    assert!(ok, "guest failed:\n{out}");
    let kv = close_line(&out);
    assert_eq!(field(&kv, "delivered"), n.to_string(), "{out}");
    assert_eq!(field(&kv, "clean"), "true", "{out}");
    assert_eq!(field(&kv, "connects"), "1", "{out}");
    assert!(wait_until(Duration::from_secs(30), || rsyslog.count()
        as u64
        >= n));
    rsyslog.stop();
    let lines = rsyslog.lines();
    assert_eq!(lines.len() as u64, n);
    assert_eq!(check_all_arrived(std::slice::from_ref(&lines), n), 0);
    check_readings(&lines);
}

#[test]
fn guest_loses_nothing_when_the_collector_restarts() {
    require_wasmtime();
    let c = Collector::start();
    let n = 10_000u64;
    // 15 ms pause every 100 events: the run lasts about 1.5 s.
    let mut child = Command::new("wasmtime")
        .args(["run", "-S", "inherit-network=y"])
        .arg(deliver_wasm())
        .args([c.server(), n.to_string(), "15".into()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = wait_until(Duration::from_secs(60), || c.count() >= 2000);
    if !seen {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("the guest never got going: {err}");
    }
    let before = c.count();
    let addr = c.kill();
    assert!(before < n as usize, "the guest finished before the restart");
    std::thread::sleep(Duration::from_millis(300));
    let c = Collector::on(addr);
    let out = finish(child, Duration::from_secs(120));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "guest failed:\n{text}");
    let kv = close_line(&text);
    assert_eq!(field(&kv, "unsent"), "0", "{text}");
    assert_eq!(field(&kv, "delivered"), n.to_string(), "{text}");
    assert!(
        field(&kv, "connects").parse::<u64>().unwrap() >= 2,
        "{text}"
    );
    assert!(
        text.contains("notice: [30]") || text.contains("notice: [40]"),
        "{text}"
    );
    assert!(wait_until(Duration::from_secs(10), || c.count() as u64 >= n));
    // Everything the lost connection carried is replayed (it is under the
    // replay limit), so the new collector alone has every event.
    let conns = c.connections();
    let dups = check_all_arrived(&conns, n);
    let replayed: u64 = field(&kv, "replayed").parse().unwrap();
    assert!(dups <= replayed, "{dups} duplicates, {replayed} replayed");
    for conn in &conns {
        check_readings(conn);
    }
}

/// A collector that half-closes (FIN, no reset) after 1,000 lines: the guest
/// sees end of stream on its input stream, reconnects and sends the rest;
/// nothing is lost.
#[test]
fn peer_close_is_seen_on_the_input_stream() {
    use std::io::{BufRead, BufReader};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = l.local_addr().unwrap().to_string();
    let n = 5_000u64;
    let reader = std::thread::spawn(move || {
        let mut conns: Vec<Vec<String>> = Vec::new();
        let mut total = 0u64;
        // Bounded: the guest makes a handful of connections at most.
        l.set_nonblocking(true).unwrap();
        for k in 0..10 {
            let end = Instant::now() + Duration::from_secs(60);
            let s = loop {
                match l.accept() {
                    Ok((s, _)) => break Some(s),
                    Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => break None,
                }
            };
            let Some(s) = s else { break };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut lines = Vec::new();
            for line in BufReader::new(&s).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
                if k == 0 && lines.len() == 1000 {
                    // Half-close: our FIN, while still reading what comes.
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                }
            }
            total += lines.len() as u64;
            conns.push(lines);
            if k > 0 && total >= n {
                break;
            }
        }
        conns
    });
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y"],
        &[server, n.to_string(), "10".into()],
        Duration::from_secs(120),
    );
    assert!(ok, "{out}");
    let kv = close_line(&out);
    assert_eq!(field(&kv, "delivered"), n.to_string(), "{out}");
    assert!(out.contains("closed by the peer"), "{out}");
    let conns = reader.join().unwrap();
    assert!(
        conns.len() >= 2,
        "no reconnect: {} connections",
        conns.len()
    );
    assert!(conns[0].len() >= 1000);
    check_all_arrived(&conns, n);
}

/// A connect that never completes (a full accept backlog) hits the connect
/// timeout, is notified, and is retried; events stay buffered.
#[test]
fn connect_timeout_on_a_black_hole() {
    let hole = alooma_tests::collector::BlackHole::start();
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y"],
        &[
            hole.server(),
            "10".into(),
            "0".into(),
            "1500".into(),
            "200".into(),
        ],
        Duration::from_secs(60),
    );
    assert!(ok, "{out}");
    let timeouts = out.matches("failed: timed out").count();
    assert!(timeouts >= 2, "no connect timeouts:\n{out}");
    let kv = close_line(&out);
    assert_eq!(field(&kv, "unsent"), "10", "{out}");
    assert_eq!(field(&kv, "delivered"), "0", "{out}");
}

#[test]
fn denied_sockets_are_notified_and_nothing_traps() {
    let port = closed_port();
    let (ok, out) = run_deliver(
        &[],
        &[
            format!("127.0.0.1:{port}"),
            "50".into(),
            "0".into(),
            "300".into(),
        ],
        Duration::from_secs(60),
    );
    assert!(ok, "the guest must exit normally:\n{out}");
    assert!(
        !out.contains("panicked") && !out.contains("wasm trap"),
        "{out}"
    );
    assert!(
        out.contains("network access denied") && out.contains("-S inherit-network=y"),
        "no clear notification:\n{out}"
    );
    let kv = close_line(&out);
    assert_eq!(field(&kv, "delivered"), "0", "{out}");
    assert_eq!(field(&kv, "unsent"), "50", "events stay buffered:\n{out}");
    assert_eq!(field(&kv, "dropped"), "0", "{out}");
}

#[test]
fn denied_name_lookup_is_notified() {
    let c = Collector::start();
    let server = format!("localhost:{}", c.addr.port());
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y"],
        &[server.clone(), "20".into(), "0".into(), "300".into()],
        Duration::from_secs(60),
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("-S allow-ip-name-lookup=y"),
        "no clear notification:\n{out}"
    );
    assert_eq!(field(&close_line(&out), "unsent"), "20", "{out}");
    assert_eq!(c.count(), 0);
    // Granted, the same name resolves; each address is tried in turn (the
    // collector listens on 127.0.0.1 only).
    let (ok, out) = run_deliver(
        &["-S", "inherit-network=y", "-S", "allow-ip-name-lookup=y"],
        &[server, "20".into()],
        Duration::from_secs(60),
    );
    assert!(ok, "{out}");
    assert_eq!(field(&close_line(&out), "delivered"), "20", "{out}");
    assert!(wait_until(Duration::from_secs(5), || c.count() >= 20));
    assert_eq!(check_all_arrived(&c.connections(), 20), 0);
}

/// `wasmtime serve` on a free loopback port, killed on drop.
struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(collector: &str, reuse: Option<u32>) -> Serve {
    require_wasmtime();
    require_tool("curl", "apt-get install -y curl");
    let mut cmd = Command::new("wasmtime");
    cmd.args(["serve", "-S", "cli=y", "-S", "inherit-network=y"])
        .arg("--addr=127.0.0.1:0")
        .arg(format!("--env=ALOOMA_SERVER={collector}"));
    if let Some(n) = reuse {
        cmd.arg(format!("--max-instance-reuse-count={n}"));
    }
    let mut child = cmd
        .arg(guests().join("alooma_edge_function.wasm"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wasmtime says on stderr which port it bound; the component's own
    // messages follow there, so keep draining it.
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://127.0.0.1:") {
                let _ = tx.send(rest.trim_end_matches('/').parse::<u16>().ok());
            }
        }
    });
    let port = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
    let s = Serve {
        child,
        port: port.unwrap_or(0),
    };
    assert!(port.is_some(), "wasmtime serve did not start");
    s
}

fn curl(port: u16, method: &str, paths: &[String]) -> Vec<String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "code:%{http_code}\\n", "-X", method]);
    for p in paths {
        cmd.arg(format!("http://127.0.0.1:{port}{p}"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    // Bodies and codes interleave on stdout; the codes have a prefix.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("code:"))
        .map(String::from)
        .collect()
}

fn edge_function(reuse: Option<u32>) {
    let c = Collector::start();
    let s = serve(&c.server(), reuse);
    let get: Vec<String> = (0..150)
        .map(|i| {
            if i % 10 == 9 {
                format!("/missing/{i}")
            } else {
                format!("/item/{i}?q={i}")
            }
        })
        .collect();
    let post: Vec<String> = (150..200).map(|i| format!("/submit/{i}")).collect();
    let mut codes = curl(s.port, "GET", &get);
    codes.extend(curl(s.port, "POST", &post));
    assert_eq!(codes.len(), 200);
    assert_eq!(
        codes.iter().filter(|c| *c == "404").count(),
        15,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "200").count(),
        185,
        "{codes:?}"
    );
    assert!(
        wait_until(Duration::from_secs(30), || c.count() >= 200),
        "{} of 200 events arrived",
        c.count()
    );
    std::thread::sleep(Duration::from_millis(200));
    let lines = c.lines();
    assert_eq!(lines.len(), 200, "one event per request");
    let mut paths = Vec::new();
    let mut most = 0;
    for l in &lines {
        let (ev, meta) = split_record(l);
        assert_eq!(ev["kind"], "request", "{l}");
        assert_eq!(meta["input_label"], "edge", "{l}");
        let path = ev["path"].as_str().unwrap().to_string();
        let want = if path.starts_with("/missing") {
            404
        } else {
            200
        };
        assert_eq!(ev["status"], want, "{l}");
        let method = if path.starts_with("/submit") {
            "POST"
        } else {
            "GET"
        };
        assert_eq!(ev["method"], method, "{l}");
        assert!(ev["latency_us"].is_u64(), "{l}");
        most = most.max(ev["instance_requests"].as_u64().unwrap());
        paths.push(path);
    }
    paths.sort();
    let mut want: Vec<String> = get.iter().chain(&post).cloned().collect();
    want.sort();
    assert_eq!(paths, want);
    match reuse {
        // A new instance per request: each connects, sends, is flushed.
        None => assert_eq!(most, 1),
        // Sequential requests reuse one instance and its connection.
        Some(_) => {
            assert!(most > 1, "no instance served twice");
            assert!(c.connections().len() < 200, "connections were not reused");
        }
    }
}

#[test]
fn edge_function_new_instance_per_request() {
    edge_function(None);
}

#[test]
fn edge_function_with_instance_reuse() {
    edge_function(Some(1000));
}

/// The sustained-load fault family (see `alooma_tests::sustained`) on a
/// guest under wasmtime: 300,000 events into a 2 MiB ring, polled every 100
/// events, never pausing. A guest cannot see acknowledgements: a record is
/// confirmed once `replay_limit` (1 MiB) more bytes were written after it,
/// which covers its socket's send buffer (an eighth of that asked for,
/// doubled by Linux), the runtime's buffer and what the collector can hold
/// unread.
fn guest_sustained<F>(policy: &str, c: Collector, faults: F, expect: usize) -> (Arrived, Counts)
where
    F: FnOnce(Collector, &AtomicBool) -> (Collector, usize) + Send + 'static,
{
    require_wasmtime();
    let replay = RING / 2;
    assert!(replay >= Collector::UNREAD_MAX + replay / 4 + 64 * 1024);
    let child = Command::new("wasmtime")
        .args(["run", "-S", "inherit-network=y"])
        .arg(deliver_wasm())
        .args([
            c.server(),
            sustained::N.to_string(),
            "0".into(),
            "60000".into(),
            "2000".into(),
            RING.to_string(),
            replay.to_string(),
            policy.into(),
            PAD.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let schedule = Schedule::start(c, faults);
    let out = finish(child, Duration::from_secs(300));
    let (c, done) = schedule.finish();
    if policy == "block" {
        assert_eq!(done, expect, "faults that happened");
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "guest failed:\n{text}");
    let kv = close_line(&text);
    let num = |k: &str| field(&kv, k).parse::<u64>().unwrap();
    let k = Counts {
        accepted: num("accepted"),
        delivered: num("delivered"),
        unconfirmed: num("unconfirmed"),
        unsent: num("unsent"),
        dropped: num("dropped"),
        replayed: num("replayed"),
        clean: field(&kv, "clean") == "true",
        loss_told: field(&kv, "loss_told") == "true",
        causes: Causes {
            refused: num("dropped_newest"),
            dropped_oldest: num("dropped_oldest"),
            discarded: num("discarded"),
        },
    };
    assert!(num("connects") > done as u64, "{text}");
    (check(&c, &k), k)
}

#[test]
fn guest_block_resets_every_5000_lines() {
    let (a, k) = guest_sustained("block", resets(), ten_resets, 10);
    sustained::check_block(&a, &k);
}

#[test]
fn guest_block_killed_five_times() {
    let (a, k) = guest_sustained("block", Collector::start(), killed_five_times, 5);
    sustained::check_block(&a, &k);
}

#[test]
fn guest_block_down_between_connections() {
    let (a, k) = guest_sustained("block", resets_and_down(), three_resets, 3);
    sustained::check_block(&a, &k);
}

#[test]
fn guest_drop_newest_resets_every_5000_lines() {
    guest_sustained("drop-newest", resets(), ten_resets, 10);
}

#[test]
fn guest_drop_newest_killed_five_times() {
    guest_sustained("drop-newest", Collector::start(), killed_five_times, 5);
}

#[test]
fn guest_drop_newest_down_between_connections() {
    guest_sustained("drop-newest", resets_and_down(), three_resets, 3);
}

#[test]
fn guest_drop_oldest_resets_every_5000_lines() {
    guest_sustained("drop-oldest", resets(), ten_resets, 10);
}

#[test]
fn guest_drop_oldest_killed_five_times() {
    guest_sustained("drop-oldest", Collector::start(), killed_five_times, 5);
}

#[test]
fn guest_drop_oldest_down_between_connections() {
    guest_sustained("drop-oldest", resets_and_down(), three_resets, 3);
}
