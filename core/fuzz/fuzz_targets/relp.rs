//! The RELP client takes any bytes from a collector: it never panics, keeps
//! bounded state, never acknowledges a record it did not send, and reads
//! the same replies whether the bytes come at once or split anywhere.
#![no_main]
use alooma_core::relp::{Progress, Relp, RelpConfig, HEADER_MAX};
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
/// first error. What the bytes before an error acknowledged counts.
fn run(chunks: &[&[u8]]) -> (Option<u64>, u32, Option<RelpError>) {
    let mut r = session();
    let (mut last, mut answered) = (None, 0);
    for c in chunks {
        let mut p = Progress::default();
        let result = r.receive_into(Instant::ZERO, c, &mut p);
        if let Some(i) = p.acked_record {
            assert!(i < SENT, "acknowledged record {i} never sent");
            assert!(last.is_none_or(|l| i > l), "acknowledgements went back");
            last = Some(i);
        }
        answered += p.answered;
        if let Err(e) = result {
            return (last, answered, Some(e));
        }
        assert_eq!(r.unanswered() + answered, FRAMES);
    }
    (last, answered, None)
}

/// The collector's bytes: mostly well-formed answers (so that deep states
/// are reached), with refusals, `serverclose`, and raw fuzz bytes mixed in.
fn collector_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut txnr = 2u64;
    let mut i = 0;
    while i < data.len() {
        let op = data[i];
        i += 1;
        match op % 8 {
            0..=3 => {
                out.extend(format!("{txnr} rsp 6 200 OK\n").as_bytes());
                txnr += 1;
            }
            4 => out.extend(format!("{txnr} rsp 14 500 full queue\n").as_bytes()),
            5 => out.extend(b"0 serverclose 0\n"),
            _ => {
                let end = (i + (op / 8) as usize % 16).min(data.len());
                out.extend(&data[i..end]);
                i = end;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let bytes = collector_bytes(data);
    let whole = run(&[&bytes]);
    let at = split as usize * bytes.len() / 256;
    let parts = run(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(whole, parts);
});
