//! The caller's cost of `Sdk::report` into the ring (sender connected to a
//! loopback sink), with 1 and 2 producer threads, against serde_json
//! serializing the same enveloped record into a reused buffer.

use alooma::{EventType, Sdk, WhenFull};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde::Serialize;
use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[derive(Serialize)]
struct Event<'a> {
    kind: &'a str,
    user_id: u64,
    session: &'a str,
    path: &'a str,
    referrer: &'a str,
    duration_ms: u32,
    items: [u32; 4],
    total: f64,
    ok: bool,
}

const EV: Event<'static> = Event {
    kind: "page_view",
    user_id: 1_000_123,
    session: "c0ffee00-1234-5678-9abc-def012345678",
    path: "/products/widgets/blue-widget-deluxe",
    referrer: "https://search.example.com/?q=widgets",
    duration_ms: 1234,
    items: [1, 2, 3, 4],
    total: 42.5,
    ok: true,
};

#[derive(Serialize)]
struct Enveloped<'a> {
    #[serde(flatten)]
    event: &'a Event<'a>,
    _metadata: Meta<'a>,
}

#[derive(Serialize)]
struct Meta<'a> {
    event_type: &'a str,
    input_label: &'a str,
    input_type: &'a str,
    token: &'a str,
    report_time: &'a str,
    #[serde(rename = "@uuid")]
    uuid: &'a str,
    calling_file: &'a str,
    calling_line: u32,
}

fn sink() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = vec![0u8; 1 << 20];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("report");
    let mut v = Vec::with_capacity(4096);
    g.bench_function("serde_json: enveloped record to_writer", |b| {
        b.iter(|| {
            v.clear();
            let rec = Enveloped {
                event: black_box(&EV),
                _metadata: Meta {
                    event_type: "page_view",
                    input_label: "bench",
                    input_type: "Rust SDK",
                    token: "bench-token",
                    report_time: "2026-11-27T01:00:00.000Z",
                    uuid: "c0ffee00-1234-4678-9abc-def012345678",
                    calling_file: file!(),
                    calling_line: line!(),
                },
            };
            serde_json::to_writer(&mut v, &rec).unwrap();
            v.push(b'\n');
            v.len()
        })
    });
    let sdk = Sdk::builder()
        .token("bench-token")
        .server(sink())
        .input_label("bench")
        .event_type(EventType::field("kind"))
        .buffer_bytes(64 << 20)
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    sdk.report(&EV).unwrap();
    sdk.flush(Duration::from_secs(5)).unwrap();
    for threads in [1usize, 2] {
        g.bench_function(
            format!("alooma: report(), {threads} producer thread(s)"),
            |b| {
                b.iter_custom(|iters| {
                    let per = iters / threads as u64 + 1;
                    let t0 = Instant::now();
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            let sdk = &sdk;
                            s.spawn(move || {
                                for _ in 0..per {
                                    sdk.report(black_box(&EV)).unwrap();
                                }
                            });
                        }
                    });
                    // `iters` calls as one caller sees them: each of the
                    // threads made `per` calls in the elapsed wall time.
                    t0.elapsed().mul_f64(iters as f64 / per as f64)
                })
            },
        );
    }
    sdk.close(Duration::from_secs(5));
    // The caller's own cost, with the sender idle (collector down, so no
    // thread competes for the lock or the core): encoding plus the copy.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let idle = Sdk::builder()
        .token("bench-token")
        .server(dead)
        .input_label("bench")
        .event_type(EventType::field("kind"))
        .buffer_bytes(6 << 30)
        .build()
        .unwrap();
    g.bench_function("alooma: report(), sender idle (collector down)", |b| {
        b.iter(|| idle.report(black_box(&EV)).unwrap())
    });
    g.finish();
    idle.close(Duration::from_millis(10));
}

criterion_group!(name = mio_benches; config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)); targets = benches);
criterion_main!(mio_benches);
