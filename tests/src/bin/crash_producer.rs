//! A producer for the buffer-file crash test (`tests/native_crash.rs`):
//! reports events `{"run", "seq", "pad"}` into an SDK whose buffer is a
//! file, and prints each `seq` on its own line once `report` returned `Ok`
//! for it, until it is killed. With `drain` it reports nothing, delivers
//! what it recovered, closes and prints its close report.
//!
//!     crash_producer <server> <tcp|relp> <buffer file> <run> [drain]

use alooma::{Protocol, Sdk, WhenFull};
use std::io::Write;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, protocol, file, run, rest @ ..] = args.as_slice() else {
        eprintln!("usage: crash_producer <server> <tcp|relp> <buffer file> <run> [drain]");
        std::process::exit(2);
    };
    let run: u64 = run.parse().expect("run");
    let protocol = if protocol == "relp" {
        Protocol::Relp
    } else {
        Protocol::Tcp
    };
    let buffer: usize = std::env::var("CRASH_BUFFER_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256 << 10);
    let sdk = Sdk::builder()
        .token("crash")
        .server(server.as_str())
        .protocol(protocol)
        .buffer_file(file)
        // Smaller than the traffic: the producer never pauses, so the
        // ring is full much of the time and `report` waits for room.
        .buffer_bytes(buffer)
        // The collector lives on (the producer is what dies): what its
        // kernel acknowledged it reads.
        .peer_buffer(buffer / 4)
        .when_full(WhenFull::Block)
        .backoff(alooma::Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(50),
            jitter_percent: 20,
        })
        .on_notify(|n| {
            if std::env::var_os("CRASH_DEBUG").is_some() {
                eprintln!("notify: {n:?}");
            }
        })
        .build()
        .unwrap_or_else(|e| {
            eprintln!("build: {e}");
            std::process::exit(3)
        });
    let mut out = std::io::stdout().lock();
    if rest.first().map(String::as_str) == Some("drain") {
        let flushed = sdk.flush(Duration::from_secs(60));
        let r = sdk.close(Duration::from_secs(30));
        let s = sdk.stats();
        writeln!(
            out,
            "done flushed={} clean={} recovered={} delivered={} accepted={} unsent={} unconfirmed={} dropped={}",
            flushed.is_ok(), r.clean, r.recovered, r.delivered, r.accepted, r.unsent, r.unconfirmed, r.dropped
        )
        .ok();
        let _ = s;
        return;
    }
    let pad = "p".repeat(120);
    for seq in 0u64.. {
        let ev = serde_json::json!({"run": run, "seq": seq, "pad": pad});
        if sdk.report(&ev).is_ok() && writeln!(out, "{seq}").is_err() {
            return;
        }
    }
}
