//! `log` as a front door: the real macros, through `Logger` (installed once
//! for this test process), to a loopback collector.

use alooma::{Logger, Sdk, WhenFull};
use alooma_tests::collector::Collector;
use alooma_tests::wait_until;
use serde_json::Value;
use std::time::Duration;

#[test]
fn records_with_key_values_level_target_and_origin() {
    let c = Collector::start();
    let sdk = Sdk::builder()
        .token("t")
        .server(c.server())
        .when_full(WhenFull::Block)
        .build()
        .unwrap();
    Logger::new(sdk.clone())
        .max_level(log::LevelFilter::Info)
        .init()
        .unwrap();
    let line_a = line!() + 1;
    log::info!(user = "ann", amount = 12; "purchase of {}", "widgets");
    log::debug!("below the level: not reported");
    let line_b = line!() + 1;
    log::error!(target: "shop::pay", code = -2, retry = true, ratio = 0.25; "declined");
    log::logger().flush();
    assert!(
        wait_until(Duration::from_secs(10), || c.count() >= 2),
        "the collector got {}",
        c.count()
    );
    let r: Vec<Value> = c
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(r.len(), 2, "{r:?}");
    let a = &r[0];
    assert_eq!(a["message"], "purchase of widgets");
    assert_eq!(a["user"], "ann");
    assert_eq!(a["amount"], 12);
    assert_eq!(a["level"], "INFO");
    assert_eq!(a["target"], "native_log");
    assert_eq!(a["_metadata"]["event_type"], "native_log");
    assert_eq!(a["_metadata"]["calling_line"], line_a);
    assert!(a["_metadata"]["calling_file"]
        .as_str()
        .unwrap()
        .ends_with("native_log.rs"));
    let b = &r[1];
    assert_eq!(b["message"], "declined");
    assert_eq!(b["code"], -2);
    assert_eq!(b["retry"], true);
    assert_eq!(b["ratio"], 0.25);
    assert_eq!(b["level"], "ERROR");
    assert_eq!(b["_metadata"]["event_type"], "shop::pay");
    assert_eq!(b["_metadata"]["calling_line"], line_b);
    let report = sdk.close(Duration::from_secs(5));
    assert_eq!((report.accepted, report.delivered), (2, 2), "{report:?}");
}
