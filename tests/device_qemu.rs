//! The device firmware (examples/firmware: static 4 KiB ring, no allocator)
//! runs under QEMU, as Cortex-M4F (mps2-an386) and as Cortex-M0 (microbit);
//! its UART output is the NDJSON
//! a collector would get. Every line parses; counts, fields and order are
//! right, across the forced disconnect in the middle.

use alooma_tests::{require_tool, split_record};
use std::path::Path;
use std::process::Command;

#[test]
fn firmware_under_qemu_delivers_everything_in_order() {
    delivers_everything_in_order("thumbv7em-none-eabihf", "mps2-an386");
}

/// The same firmware built for Cortex-M0 (`thumbv6m-none-eabi`: no atomic
/// read-modify-write) on QEMU's BBC micro:bit (nRF51822).
#[test]
fn cortex_m0_firmware_under_qemu_delivers_everything_in_order() {
    delivers_everything_in_order("thumbv6m-none-eabi", "microbit");
}

fn delivers_everything_in_order(target: &str, machine: &str) {
    require_tool("qemu-system-arm", "apt-get install -y qemu-system-arm");
    let fw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/firmware");
    let build = Command::new("cargo")
        .args([
            "build",
            "--release",
            "-q",
            "--bin",
            "alooma-firmware",
            "--target",
            target,
        ])
        .current_dir(&fw)
        .status()
        .expect("cargo runs");
    assert!(
        build.success(),
        "firmware build failed (needs: rustup target add {target})"
    );
    let elf = fw.join(format!("target/{target}/release/alooma-firmware"));
    let out = Command::new("timeout")
        .args([
            "60",
            "qemu-system-arm",
            "-machine",
            machine,
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(&elf)
        .output()
        .expect("qemu runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "firmware failed (exit {:?}): {stderr}",
        out.status.code()
    );
    // "firmware: accepted N irq K irq_dropped D unsent 0 disconnects 1"
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("firmware:"))
        .expect("summary line");
    let num = |key: &str| -> u64 {
        let w: Vec<&str> = summary.split_whitespace().collect();
        w[w.iter().position(|x| *x == key).unwrap() + 1]
            .parse()
            .unwrap()
    };
    let (accepted, irq) = (num("accepted"), num("irq"));
    assert_eq!(num("unsent"), 0);
    assert_eq!(num("disconnects"), 1, "the forced disconnect happened once");
    assert!(irq > 0, "the SysTick handler reported events");

    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len() as u64,
        accepted,
        "one line per accepted event, no duplicate, none lost"
    );
    let (mut seq, mut irq_seq) = (0u64, 0u64);
    for line in &lines {
        let (ev, meta) = split_record(line);
        assert_eq!(meta["input_label"], "thermostat");
        assert_eq!(meta["token"], "device-token");
        assert_eq!(meta["event_type"], ev["type"]);
        match ev["type"].as_str().unwrap() {
            "door" => {
                assert_eq!(ev["irq_seq"], irq_seq, "interrupt events in order");
                irq_seq += 1;
            }
            t @ ("temperature" | "humidity" | "pressure") => {
                assert_eq!(ev["seq"], seq, "main-loop events in order");
                assert_eq!(
                    t,
                    ["temperature", "humidity", "pressure"][(seq % 3) as usize]
                );
                assert_eq!(ev["centi"], 2000 + seq * 7);
                seq += 1;
            }
            other => panic!("unexpected type {other}"),
        }
    }
    assert_eq!(seq, 60);
    assert_eq!(irq_seq, irq);
}

/// The ring survives warm resets (examples/firmware/src/bin/warm_reset.rs):
/// its storage is in `.uninit` RAM; boot 1 reports 10 readings and resets,
/// boot 2 recovers them, reports 5 and panics, its panic handler reports one
/// more and resets, boot 3 recovers all 16 and sends them. QEMU resets the
/// machine as the hardware does (RAM kept, cortex-m-rt's init run again).
#[test]
fn firmware_ring_survives_warm_resets_and_a_panic() {
    require_tool("qemu-system-arm", "apt-get install -y qemu-system-arm");
    let fw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/firmware");
    let build = Command::new("cargo")
        .args(["build", "--release", "-q", "--bin", "warm_reset"])
        .current_dir(&fw)
        .status()
        .expect("cargo runs");
    assert!(
        build.success(),
        "firmware build failed (needs: rustup target add thumbv7em-none-eabihf)"
    );
    let elf = fw.join("target/thumbv7em-none-eabihf/release/warm_reset");
    let out = Command::new("timeout")
        .args([
            "60",
            "qemu-system-arm",
            "-machine",
            "mps2-an386",
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(&elf)
        .output()
        .expect("qemu runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "firmware failed (exit {:?}): {stderr}",
        out.status.code()
    );
    // Each boot says what it found: two real resets happened.
    assert!(stderr.contains("boot 1: cold start"), "{stderr}");
    assert!(
        stderr.contains("boot 2: recovered 10 damaged 0"),
        "{stderr}"
    );
    assert!(stderr.contains("panic handler: reported true"), "{stderr}");
    assert!(
        stderr.contains("boot 3: recovered 16 damaged 0"),
        "{stderr}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The loss marker first, telling what was recovered.
    let (marker, meta) = split_record(lines[0]);
    assert_eq!(meta["event_type"], "alooma_loss", "{}", lines[0]);
    assert_eq!(marker["recovered"], 16);
    assert_eq!(marker["damaged"], 0);
    // Then every event of boots 1 and 2, in order, the panic's last.
    let mut want: Vec<(u64, u64)> = (0..10).map(|s| (1, s)).collect();
    want.extend((0..5).map(|s| (2, s)));
    let events: Vec<_> = lines[1..].iter().map(|l| split_record(l).0).collect();
    assert_eq!(events.len(), 16, "{text}");
    for (ev, (boot, seq)) in events.iter().zip(&want) {
        assert_eq!(
            (ev["boot"].as_u64(), ev["seq"].as_u64()),
            (Some(*boot), Some(*seq))
        );
    }
    assert_eq!(events[15]["type"], "panic");
    assert_eq!(events[15]["boot"], 2);
}
