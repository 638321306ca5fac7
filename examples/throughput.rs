//! End-to-end throughput, in one run, one line per figure:
//!
//! 1. the limit: the same enveloped events serialized with serde_json and
//!    written inline through a `BufWriter<TcpStream>` to a loopback sink;
//! 2. this SDK (`alooma`, native) end to end to the same kind of sink, its
//!    caller cost per `report()`, then with 1, 2, 4 and 8 producer threads
//!    (aggregate);
//! 3. what a Rust user would pick instead: `tracing` + `tracing-subscriber`
//!    JSON + `tracing-appender::non_blocking` to a loopback `TcpStream`,
//!    and the same `tracing` events through this SDK's `TracingLayer`;
//! 4. a Wasm guest (profile `wasm`, `wasm/examples/bench.rs`) reporting a
//!    tenth as many events to a loopback sink under wasmtime;
//!
//! then the ratios (caller cost per `report()` over the limit's time per
//! event, 2/1, 2/3, 4/2), and the largest replay window the SDK held (its
//! default buffer and `peer_buffer`). `--memory` instead reports 10
//! million events into an 8 MiB ring with the collector down and prints
//! peak RSS. `--sdk-only` and `--limit-only` run one row alone (for
//! `perf`).
//!
//!     cargo run --release -p alooma-examples --bin throughput [-- --events N] [-- --memory]

use alooma::{Sdk, WhenFull};
use serde::Serialize;
use std::io::{BufWriter, Read, Seek, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

// The event every row reports (shared with the Wasm guest's row).
#[path = "bench_event.rs"]
mod bench_event;
use bench_event::{event, Event};

/// The same record the SDK writes with the default envelope, for serde_json.
#[derive(Serialize)]
struct Enveloped<'a> {
    #[serde(flatten)]
    event: Event<'a>,
    _metadata: Meta<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    event_type: &'a str,
    input_label: &'a str,
    input_type: &'a str,
    token: &'a str,
    report_time: String,
    #[serde(rename = "@uuid")]
    uuid: String,
    calling_file: &'a str,
    calling_line: u32,
}

/// `event(i)` in the default envelope, built for serde_json.
fn enveloped(i: u64) -> Enveloped<'static> {
    Enveloped {
        event: event(i),
        _metadata: Meta {
            event_type: "page_view",
            input_label: "bench",
            input_type: "Rust SDK",
            token: "bench-token",
            report_time: "2026-11-27T01:00:00.000Z".to_string(),
            uuid: "c0ffee00-1234-4678-9abc-def012345678".to_string(),
            calling_file: file!(),
            calling_line: line!(),
        },
    }
}

/// A loopback sink counting lines and bytes.
struct Sink {
    addr: String,
    lines: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

fn sink() -> Sink {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let lines = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (ln, by) = (lines.clone(), bytes.clone());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (ln, by) = (ln.clone(), by.clone());
            let reader = std::thread::Builder::new().name("sink".into());
            let _ = reader.spawn(move || {
                let mut s = s;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            by.fetch_add(n as u64, Ordering::Relaxed);
                            ln.fetch_add(
                                buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
                                Ordering::Relaxed,
                            );
                        }
                    }
                }
            });
        }
    });
    Sink { addr, lines, bytes }
}

fn wait_lines(s: &Sink, n: u64) {
    let end = Instant::now() + Duration::from_secs(300);
    while s.lines.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < end,
            "sink got {} of {n} lines",
            s.lines.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// CPU seconds this thread used so far (Linux; 0 elsewhere).
fn thread_cpu() -> f64 {
    alooma_tests::rsyslog::cpu_seconds("thread-self")
}

/// The SDK as every row configures it: the limit's envelope (token, input
/// label, event type from `kind`), reporting to `addr`.
fn bench_sdk(addr: &str) -> alooma::Builder {
    Sdk::builder()
        .token("bench-token")
        .server(addr)
        .input_label("bench")
        .event_type(alooma::EventType::field("kind"))
}

struct Figure {
    events_per_s: f64,
    mb_per_s: f64,
}

fn limit(n: u64) -> Figure {
    let s = sink();
    let t0 = Instant::now();
    let cpu0 = thread_cpu();
    let mut w = BufWriter::with_capacity(64 * 1024, TcpStream::connect(&s.addr).unwrap());
    for i in 0..n {
        let rec = enveloped(i);
        serde_json::to_writer(&mut w, &rec).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
    eprintln!(
        "(limit: producer CPU per event: {:.0} ns)",
        (thread_cpu() - cpu0) / n as f64 * 1e9
    );
    wait_lines(&s, n);
    let dt = t0.elapsed().as_secs_f64();
    Figure {
        events_per_s: n as f64 / dt,
        mb_per_s: s.bytes.load(Ordering::Relaxed) as f64 / dt / 1e6,
    }
}

/// The SDK with its default buffer (and, on Linux, its default
/// `peer_buffer`), `Block`: the producer never loses an event. Also returns
/// the largest replay window seen (sampled every millisecond) and the
/// caller's cost per `report()`.
fn sdk(n: u64) -> (Figure, f64, usize) {
    let s = sink();
    let sdk = bench_sdk(&s.addr)
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (sdk, done) = (sdk.clone(), done.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(Ordering::Relaxed) {
                most = most.max(sdk.stats().window_bytes);
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        })
    };
    // Warm up: connect, touch the buffer.
    sdk.report(&event(0)).unwrap();
    wait_lines(&s, 1);
    let base = s.lines.load(Ordering::Relaxed);
    let bytes0 = s.bytes.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let cpu0 = thread_cpu();
    for i in 0..n {
        sdk.report(&event(i)).unwrap();
    }
    let caller = t0.elapsed().as_secs_f64();
    eprintln!(
        "(caller CPU per report(): {:.0} ns)",
        (thread_cpu() - cpu0) / n as f64 * 1e9
    );
    wait_lines(&s, base + n);
    let dt = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let window = sampler.join().unwrap();
    let st = sdk.stats();
    assert_eq!(st.dropped, 0);
    eprintln!("(sender wakeups: {} for {n} events)", st.wakeups);
    let r = sdk.close(Duration::from_secs(5));
    assert_eq!(r.delivered, r.accepted, "{r:?}");
    (
        Figure {
            events_per_s: n as f64 / dt,
            mb_per_s: (s.bytes.load(Ordering::Relaxed) - bytes0) as f64 / dt / 1e6,
        },
        caller / n as f64 * 1e9,
        window,
    )
}

/// `event(0..n)` as `tracing` events, fields one by one.
fn trace_events(n: u64) {
    for i in 0..n {
        let e = event(i);
        tracing::info!(
        kind = e.kind,
        user_id = e.user_id,
        session = e.session,
        path = e.path,
        referrer = e.referrer,
        duration_ms = e.duration_ms,
        items = ?e.items,
        total = e.total,
        ok = e.ok,
        "event"
        );
    }
}

fn tracing_json(n: u64) -> Figure {
    use tracing_subscriber::prelude::*;
    let s = sink();
    let stream = TcpStream::connect(&s.addr).unwrap();
    // Lossless, so it is compared on delivering everything, as we are.
    let (nb, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(stream);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().json().with_writer(nb));
    let t0 = Instant::now();
    tracing::subscriber::with_default(subscriber, || trace_events(n));
    drop(guard); // flushes the worker
    wait_lines(&s, n);
    let dt = t0.elapsed().as_secs_f64();
    Figure {
        events_per_s: n as f64 / dt,
        mb_per_s: s.bytes.load(Ordering::Relaxed) as f64 / dt / 1e6,
    }
}

/// The same `tracing` events as [`tracing_json`], through this SDK's
/// `TracingLayer` (defaults, `Block`) to the same kind of sink.
fn tracing_alooma(n: u64) -> Figure {
    use tracing_subscriber::prelude::*;
    let s = sink();
    let sdk = Sdk::builder()
        .token("bench-token")
        .server(s.addr.clone())
        .input_label("bench")
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    sdk.report(&event(0)).unwrap();
    wait_lines(&s, 1);
    let (base, bytes0) = (
        s.lines.load(Ordering::Relaxed),
        s.bytes.load(Ordering::Relaxed),
    );
    let subscriber = tracing_subscriber::registry().with(alooma::TracingLayer::new(sdk.clone()));
    let t0 = Instant::now();
    tracing::subscriber::with_default(subscriber, || trace_events(n));
    wait_lines(&s, base + n);
    let dt = t0.elapsed().as_secs_f64();
    let r = sdk.close(Duration::from_secs(5));
    assert_eq!(r.delivered, r.accepted, "{r:?}");
    Figure {
        events_per_s: n as f64 / dt,
        mb_per_s: (s.bytes.load(Ordering::Relaxed) - bytes0) as f64 / dt / 1e6,
    }
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn memory() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let before = peak_rss_kib();
    let sdk = Sdk::builder()
        .token("t")
        .server(format!("127.0.0.1:{port}"))
        .buffer_bytes(8 << 20)
        .peer_buffer(2 << 20)
        .build()
        .unwrap();
    let n = 10_000_000u64;
    let t0 = Instant::now();
    let mut refused = 0u64;
    for i in 0..n {
        if sdk.report(&event(i)).is_err() {
            refused += 1;
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    let st = sdk.stats();
    let peak = peak_rss_kib();
    println!("memory: collector down, {n} events reported into an 8 MiB ring in {dt:.1} s: {} kept, {refused} refused (buffer full)", st.accepted - st.dropped);
    println!(
        "memory: peak RSS {:.1} MiB (before the SDK {:.1} MiB; ring 8 MiB)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!(
        "memory: peak RSS - ring = {:.1} MiB",
        (peak as f64 / 1024.0) - 8.0
    );
    sdk.close(Duration::from_millis(100));
}

/// `--count MODE N`: N iterations of one path and nothing else, for
/// `valgrind --tool=callgrind` to count instructions (repeatable where
/// wall-clock time on a shared machine is not).
fn count(mode: &str, n: u64) {
    let mut total = 0usize;
    let t0 = Instant::now();
    match mode {
        "serde_json" => {
            let mut v = Vec::with_capacity(4096);
            for i in 0..n {
                v.clear();
                let rec = enveloped(i);
                serde_json::to_writer(&mut v, &rec).unwrap();
                v.push(b'\n');
                total += v.len();
            }
            eprintln!(
                "({:.0} ns per iteration)",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
        }
        "report" => {
            let dead = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string();
            let sdk = bench_sdk(&dead).buffer_bytes(1 << 30).build().unwrap();
            let t0 = Instant::now();
            for i in 0..n {
                sdk.report(&event(i)).unwrap();
            }
            eprintln!(
                "({:.0} ns per iteration)",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
            total = sdk.stats().accepted as usize;
        }
        "refused" => {
            // The same event refused for a full buffer (drop-newest, the
            // collector down): what shedding load costs the caller.
            let dead = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string();
            let sdk = bench_sdk(&dead)
                .buffer_bytes(64 << 10)
                .peer_buffer(16 << 10)
                .replay_limit(16 << 10)
                .build()
                .unwrap();
            let mut i = 0;
            while sdk.report(&event(i)).is_ok() {
                i += 1;
            }
            let t0 = Instant::now();
            for i in 0..n {
                assert!(sdk.report(&event(i)).is_err());
            }
            eprintln!(
                "({:.0} ns per iteration)",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
            total = sdk.stats().dropped_newest as usize;
        }
        "encode" => {
            // The core's encoder alone, stamped as report() stamps: what
            // report() adds to it is the buffer and its lock.
            let c = alooma_core::Config::new("bench-token", &[]);
            let mut c2 = c;
            c2.input_label = "bench";
            let enc = c2.encoder();
            let enc = alooma_core::Encoder {
                event_type: alooma_core::EventType::Field("kind"),
                ..enc
            };
            let mut buf = vec![0u8; 64 * 1024];
            let mut rng = alooma_core::Rng::new(1);
            for i in 0..n {
                let mut u = [0u8; 16];
                u[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
                u[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
                let stamp = alooma_core::Stamp {
                    time: Some(alooma_core::UnixMillis::now()),
                    uuid: Some(u),
                    location: Some(std::panic::Location::caller()),
                };
                let mut out = alooma_core::Out::new(&mut buf);
                total += enc
                    .encode_value(&event(i), alooma_core::NO_META, &stamp, &mut out)
                    .unwrap();
            }
            eprintln!(
                "({:.0} ns per iteration)",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
        }
        "tape" => {
            // The caller's compact copy of the event (alooma_core::Tape:
            // values kept as they are, no JSON written): what the caller's
            // thread would do if the encoding moved to the sender's.
            let mut tape = alooma_core::Tape::new();
            for i in 0..n {
                tape.record(&event(i)).unwrap();
                total += tape.bound();
            }
            eprintln!(
                "({:.0} ns per iteration, {} bytes per tape)",
                t0.elapsed().as_nanos() as f64 / n as f64,
                tape.size()
            );
        }
        _ => panic!("--count serde_json|report|refused|encode|tape N"),
    }
    println!("{mode}: {n} iterations ({total})");
}

/// The same events through the SDK to one rsyslog, over its plain TCP
/// input and over RELP (`window` frames unanswered at most): events/s
/// until rsyslog has written them all.
fn relp(n: u64, windows: &[usize]) {
    use alooma::Protocol;
    use alooma_tests::rsyslog::{Queue, Rsyslog};
    let dir = alooma_tests::temp_dir("throughput-relp");
    let mut rsyslog = Rsyslog::start(&dir, None, Queue::Memory);
    let run = |server: String, protocol: Protocol, window: usize| {
        let sdk = bench_sdk(&server)
            .when_full(WhenFull::Block)
            .protocol(protocol)
            .relp_window(window)
            .build()
            .unwrap();
        // Counts the lines rsyslog writes from here on, reading only what
        // is new (the benchmark must not compete with rsyslog for CPU).
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&rsyslog.out)
            .unwrap();
        out.seek(std::io::SeekFrom::End(0)).unwrap();
        let mut lines = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let cpu0 = (
            alooma_tests::rsyslog::cpu_seconds("self"),
            rsyslog.cpu_seconds(),
        );
        let t0 = Instant::now();
        for i in 0..n {
            sdk.report(&event(i)).unwrap();
        }
        let end = Instant::now() + Duration::from_secs(300);
        while lines < n {
            match out.read(&mut buf).unwrap() {
                0 => {
                    assert!(Instant::now() < end, "rsyslog wrote {lines} of {n}");
                    std::thread::sleep(Duration::from_millis(2));
                }
                k => lines += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64,
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        let cpu = (
            alooma_tests::rsyslog::cpu_seconds("self") - cpu0.0,
            rsyslog.cpu_seconds() - cpu0.1,
        );
        let r = sdk.close(Duration::from_secs(10));
        assert_eq!(r.delivered, n, "{r:?}");
        (n as f64 / dt, cpu)
    };
    let (tcp, cpu) = run(rsyslog.tcp_server(), Protocol::Tcp, 1);
    println!(
        "4 rsyslog imtcp, plain TCP:          {tcp:>10.0} events/s  CPU s: SDK process {:.2}, rsyslogd {:.2}",
        cpu.0, cpu.1
    );
    for &w in windows {
        let (relp, cpu) = run(rsyslog.server(), Protocol::Relp, w);
        println!(
            "4 rsyslog imrelp, RELP window {w:>5}: {relp:>10.0} events/s  CPU s: SDK process {:.2}, rsyslogd {:.2}  ratio RELP/TCP {:.2}",
            cpu.0, cpu.1, relp / tcp
        );
    }
    rsyslog.stop();
}

/// The SDK end to end with `k` producer threads reporting `n` events in
/// all (`Block`, the default buffer): aggregate events/s.
fn producers(n: u64, k: u64) -> f64 {
    let s = sink();
    let sdk = bench_sdk(&s.addr)
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    sdk.report(&event(0)).unwrap();
    wait_lines(&s, 1);
    let base = s.lines.load(Ordering::Relaxed);
    let each = n / k;
    let t0 = Instant::now();
    let threads: Vec<_> = (0..k)
        .map(|t| {
            let sdk = sdk.clone();
            std::thread::spawn(move || {
                for i in t * each..(t + 1) * each {
                    sdk.report(&event(i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wait_lines(&s, base + each * k);
    let dt = t0.elapsed().as_secs_f64();
    let r = sdk.close(Duration::from_secs(5));
    assert_eq!(r.delivered, r.accepted, "{r:?}");
    (each * k) as f64 / dt
}

/// A Wasm guest (`wasm/examples/bench.rs`, profile `wasm`) reporting `n`
/// of the same events to a loopback sink under wasmtime: events/s from
/// start to delivered (as the guest's clock sees it) and the caller's ns
/// per `report()`. Builds the guest first; `None` with the reason when
/// wasmtime or the target is missing.
fn wasm(n: u64) -> Result<(f64, f64), String> {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/bench-wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args([
            "build",
            "-q",
            "--profile",
            "wasm",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["-p", "alooma-wasm", "--example", "bench"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !st.success() {
        return Err("building the guest failed (rustup target add wasm32-wasip2)".into());
    }
    let guest = target.join("wasm32-wasip2/wasm/examples/bench.wasm");
    let s = sink();
    let out = Command::new("wasmtime")
        .args(["run", "-S", "inherit-network=y"])
        .arg(&guest)
        .args([s.addr.as_str(), &n.to_string()])
        .output()
        .map_err(|e| format!("wasmtime: {e} (cargo install wasmtime-cli@48.0.8 --locked)"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("bench:"))
        .ok_or_else(|| format!("the guest said: {text}"))?;
    // "bench: N events, C ns per report(), T s to delivered"
    let words: Vec<&str> = line.split_whitespace().collect();
    let caller: f64 = words[3].parse().map_err(|_| line.to_string())?;
    let total: f64 = words[7].parse().map_err(|_| line.to_string())?;
    assert_eq!(s.lines.load(Ordering::Relaxed), n, "the sink's count");
    Ok((n as f64 / total, caller))
}

/// End to end with the buffer in memory, in a file, and in a file synced
/// every 10 ms, in one run (same events, same sink); then the time to start
/// on a full file of the default size (open, map, recover).
fn file_rows(n: u64) {
    let dir = std::env::temp_dir().join(format!("alooma-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |file: Option<(&str, Option<Duration>)>| {
        let s = sink();
        let mut b = bench_sdk(&s.addr).when_full(WhenFull::Block);
        if let Some((name, sync)) = file {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            b = b.buffer_file(path).sync_every(sync);
        }
        let sdk = b.build().unwrap();
        sdk.report(&event(0)).unwrap();
        wait_lines(&s, 1);
        let t0 = Instant::now();
        for i in 0..n {
            sdk.report(&event(i)).unwrap();
        }
        let caller = t0.elapsed().as_secs_f64() / n as f64 * 1e9;
        wait_lines(&s, n + 1);
        let rate = n as f64 / t0.elapsed().as_secs_f64();
        let r = sdk.close(Duration::from_secs(10));
        assert_eq!(r.delivered, r.accepted, "{r:?}");
        (rate, caller)
    };
    let (mem, mem_cost) = run(None);
    let (file, file_cost) = run(Some(("nosync", None)));
    let (synced, synced_cost) = run(Some(("sync10", Some(Duration::from_millis(10)))));
    println!("6 alooma buffer in memory (default 24 MiB):       {mem:>10.0} events/s, {mem_cost:.0} ns per report()");
    println!("6 alooma buffer_file, no sync:                    {file:>10.0} events/s, {file_cost:.0} ns per report()");
    println!("6 alooma buffer_file, sync_every 10 ms:           {synced:>10.0} events/s, {synced_cost:.0} ns per report()");
    println!("ratio file / memory (no sync): {:.2}", file / mem);
    println!(
        "ratio file / memory (sync_every 10 ms): {:.2}",
        synced / mem
    );
    // A full file of the default size, its collector down.
    let path = dir.join("full");
    let _ = std::fs::remove_file(&path);
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let sdk = bench_sdk(&nowhere)
        .when_full(WhenFull::DropNewest)
        .buffer_file(&path)
        .build()
        .unwrap();
    let mut i = 0;
    while sdk.stats().dropped == 0 {
        let _ = sdk.report(&event(i));
        i += 1;
    }
    let kept = sdk.stats().unsent;
    sdk.close(Duration::ZERO);
    drop(sdk);
    // The sender thread lets go of the file (its lock) as it exits.
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let sdk = bench_sdk(&nowhere).buffer_file(&path).build().unwrap();
    let started = t0.elapsed();
    let recovered = sdk.stats().recovered;
    sdk.close(Duration::ZERO);
    assert_eq!(recovered, kept);
    println!(
        "6 start on a full {} MiB buffer file ({recovered} events recovered): {:.1} ms",
        alooma::DEFAULT_BUFFER_BYTES >> 20,
        started.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--file") {
        let n = args
            .iter()
            .position(|a| a == "--events")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        file_rows(n);
        return;
    }
    if args.iter().any(|a| a == "--relp") {
        let n = args
            .iter()
            .position(|a| a == "--events")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        relp(n, &[128, 1024, 4096]);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--count") {
        let n = args
            .get(i + 2)
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        count(&args[i + 1], n);
        return;
    }
    if args.iter().any(|a| a == "--memory") {
        memory();
        return;
    }
    let n: u64 = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let _ = SystemTime::now();
    println!(
        "machine: {} cores; {n} events of ~200 bytes (~380 bytes on the wire enveloped)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if args.iter().any(|a| a == "--sdk-only") {
        let (two, cost, _) = sdk(n);
        println!(
            "2 sdk {:.0} events/s, {cost:.0} ns per report()",
            two.events_per_s
        );
        return;
    }
    if args.iter().any(|a| a == "--limit-only") {
        let one = limit(n);
        println!("1 limit {:.0} events/s", one.events_per_s);
        return;
    }
    let one = limit(n);
    println!(
        "1 limit  serde_json + BufWriter<TcpStream> inline: {:>10.0} events/s {:>7.1} MB/s",
        one.events_per_s, one.mb_per_s
    );
    let (two, cost, window) = sdk(n);
    println!(
        "2 alooma end to end:                              {:>10.0} events/s {:>7.1} MB/s",
        two.events_per_s, two.mb_per_s
    );
    println!(
        "2 alooma largest replay window:                   {:>10.1} MiB of a {} MiB buffer",
        window as f64 / (1 << 20) as f64,
        alooma::DEFAULT_BUFFER_BYTES >> 20
    );
    println!("2 alooma caller cost per report():                {cost:>10.0} ns");
    let mut single = 0.0;
    for k in [1u64, 2, 4, 8] {
        let r = producers(n, k);
        if k == 1 {
            single = r;
        }
        println!(
            "2 alooma {k} producer thread(s), aggregate:        {r:>10.0} events/s ({:.2}x one)",
            r / single
        );
    }
    let three = tracing_json(n);
    println!(
        "3 tracing JSON + tracing-appender non_blocking:   {:>10.0} events/s {:>7.1} MB/s",
        three.events_per_s, three.mb_per_s
    );
    let three_b = tracing_alooma(n);
    println!(
        "3 the same tracing events through alooma::TracingLayer: {:>6.0} events/s {:>7.1} MB/s",
        three_b.events_per_s, three_b.mb_per_s
    );
    println!(
        "ratio TracingLayer / tracing-appender JSON: {:.2}",
        three_b.events_per_s / three.events_per_s
    );
    let wn = (n / 10).max(1000);
    match wasm(wn) {
        Ok((rate, caller)) => {
            println!(
                "4 alooma-wasm guest under wasmtime, {wn} events: {rate:>10.0} events/s, {caller:.0} ns per report()"
            );
            println!(
                "ratio 4/2 (Wasm guest / native SDK): {:.2}",
                rate / two.events_per_s
            );
        }
        Err(e) => println!("4 alooma-wasm guest: not measured: {e}"),
    }
    println!(
        "ratio caller cost / limit time per event: {:.2}",
        cost / (1e9 / one.events_per_s)
    );
    println!(
        "ratio 2/1 (SDK / limit):   {:.2}",
        two.events_per_s / one.events_per_s
    );
    println!(
        "ratio 2/3 (SDK / tracing): {:.2}",
        two.events_per_s / three.events_per_s
    );
}
