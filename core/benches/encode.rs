//! The core's hot path: validating JSON text, and encoding a ~200-byte
//! `impl Serialize` event with each envelope, against serde_json doing the
//! same serialization (the yardstick).

use alooma_core::{json, Config, Envelope, EventType, Out, Stamp, UnixMillis, NO_META};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde::Serialize;

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

fn benches(c: &mut Criterion) {
    let text = serde_json::to_string_pretty(&EV).unwrap();
    let compact = serde_json::to_string(&EV).unwrap();
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Bytes(compact.len() as u64));
    g.bench_function("ours: validate compact ~200 B", |b| {
        b.iter(|| json::validate(black_box(compact.as_bytes())).unwrap())
    });
    g.bench_function("serde_json: parse to IgnoredAny", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde::de::IgnoredAny>(black_box(compact.as_bytes())).unwrap()
        })
    });
    let mut buf = vec![0u8; 4096];
    g.bench_function("ours: validate + compact pretty", |b| {
        b.iter(|| {
            let mut out = Out::new(&mut buf);
            json::compact(black_box(text.as_bytes()), &mut out).unwrap();
            out.len()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("encode");
    let stamp = Stamp {
        time: Some(UnixMillis(1_795_737_375_123)),
        uuid: Some([7; 16]),
        location: Some(std::panic::Location::caller()),
    };
    for env in [Envelope::Metadata, Envelope::Wrapped, Envelope::Raw] {
        let mut cfg = Config::new("bench-token", &[]);
        cfg.envelope = env;
        cfg.event_type = EventType::Field("kind");
        let enc = cfg.encoder();
        g.bench_function(format!("ours: {env:?} envelope"), |b| {
            b.iter(|| {
                let mut out = Out::new(&mut buf);
                enc.encode_value(black_box(&EV), NO_META, &stamp, &mut out)
                    .unwrap()
            })
        });
    }
    let mut v = Vec::with_capacity(4096);
    g.bench_function("serde_json: event alone to_writer", |b| {
        b.iter(|| {
            v.clear();
            serde_json::to_writer(&mut v, black_box(&EV)).unwrap();
            v.len()
        })
    });
    g.finish();
}

criterion_group!(name = core_benches; config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)); targets = benches);
criterion_main!(core_benches);
