//! The RELP client takes any bytes from a collector: it never panics, keeps
//! bounded state, never acknowledges a record it did not send, and reads
//! the same replies whether the bytes come at once or split anywhere.
#![no_main]
use alooma_core::relp::{Relp, RelpConfig, HEADER_MAX};
use alooma_core::{Instant, RelpError};
use libfuzzer_sys::fuzz_target;

const SENT: u64 = 40;
/// Frames in flight: the records and a marker before records 3, 10, ... 38.
const FRAMES: u32 = SENT as u32 + 6;

/// A session whose open was accepted, with SENT records in flight (and a
/// loss marker before every 7th).
fn session() -> Relp {
    let mut r = Relp::new(RelpConfig::default());
    r.open(Instant::ZERO, &mut [0u8; 128]);
    r.receive(Instant::ZERO, b"1 rsp 22 200 OK\ncommands=syslog\n")
        .unwrap();
    let mut h = [0u8; HEADER_MAX];
    for i in 0..SENT {
        if i % 7 == 3 {
            r.header(Instant::ZERO, None, 10, &mut h).unwrap();
        }
        r.header(Instant::ZERO, Some(i), 10, &mut h).unwrap();
    }
    r
}

/// Feeds `chunks`: the last record acknowledged, replies read, and the
/// first error.
fn run(chunks: &[&[u8]]) -> (Option<u64>, u32, Option<RelpError>) {
    let mut r = session();
    let (mut last, mut answered) = (None, 0);
    for c in chunks {
        match r.receive(Instant::ZERO, c) {
            Ok(p) => {
                if let Some(i) = p.acked_record {
                    assert!(i < SENT, "acknowledged record {i} never sent");
                    assert!(last.is_none_or(|l| i > l), "acknowledgements went back");
                    last = Some(i);
                }
                answered += p.answered;
                assert_eq!(r.unanswered() + answered, FRAMES);
            }
            Err(e) => return (last, answered, Some(e)),
        }
    }
    (last, answered, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = run(&[data]);
    let at = split as usize % (data.len() + 1);
    let parts = run(&[&data[..at], &data[at..]]);
    assert_eq!(whole, parts);
});
