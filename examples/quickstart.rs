//! Quickstart: the seed SDK's walk-through in Rust.
//!
//! It starts a small collector on loopback itself (so it needs nothing
//! else), reports events of a few types through the SDK, and prints what
//! the collector received and the SDK's own counters.
//!
//!     cargo run --example quickstart

use alooma::{EventType, Sdk};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

#[derive(Serialize)]
struct Purchase<'a> {
    kind: &'a str,
    user: &'a str,
    items: u32,
    total: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A collector: one TCP listener on a free loopback port that prints
    // every line (one JSON record per line) it receives.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let server = listener.local_addr()?.to_string();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(conn).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
    });
    println!("collector listening on {server}");

    // 1. Build the SDK: a token, the collector(s), an input label, and how
    //    to tell event types apart (here: the event's own "kind" field).
    let sdk = Sdk::builder()
        .token("quickstart-token")
        .servers([server.as_str()])
        .input_label("quickstart")
        .event_type(EventType::field("kind"))
        .on_notify(|n| println!("  notification {n}"))
        .build()?;

    // 2. Report events: any Serialize that is a JSON object or a string...
    sdk.report(&Purchase {
        kind: "purchase",
        user: "ann",
        items: 3,
        total: 42.5,
    })?;
    sdk.report(&serde_json::json!({"kind": "page_view", "path": "/pricing", "ms": 87}))?;
    sdk.report(&"a plain string event")?;
    // ...or JSON text (validated, compacted to one line).
    sdk.report_json(
        r#"{ "kind": "signup",
                         "plan": "pro" }"#,
    )?;

    // 3. Several at once; the ones refused come back with their index.
    let failed = sdk.report_many(vec![
        serde_json::json!({"kind": "click", "button": "buy"}),
        serde_json::json!(42), // not an object or a string: refused
        serde_json::json!({"kind": "click", "button": "cancel"}),
    ]);
    for (i, e) in &failed {
        println!("event #{i} refused: {e}");
    }

    // 4. Close: delivers what is buffered (with a deadline) and says what
    //    happened to every event.
    let stats = {
        sdk.flush(Duration::from_secs(5))?;
        sdk.stats()
    };
    let report = sdk.close(Duration::from_secs(5));

    println!("\nthe collector received:");
    let mut got = 0;
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        println!("  {line}");
        got += 1;
    }
    println!("\n{got} records received");
    println!(
        "SDK: accepted {}, rejected {}, sent {}, delivered {}, unsent {}, dropped {}",
        stats.accepted, stats.rejected, stats.sent, report.delivered, report.unsent, report.dropped
    );
    if got != 6 || report.delivered != 6 {
        return Err("not every accepted event arrived".into());
    }
    Ok(())
}
