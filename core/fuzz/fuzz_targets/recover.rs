//! `Ring::recover` over arbitrary bytes (half the time after a real ring's
//! header and seals, so the record checks are reached): it never panics,
//! what it recovers is whole records, and the recovered ring works on and
//! is recovered again exactly.
#![no_main]
use alooma_core::{Cursor, Ring};
use libfuzzer_sys::fuzz_target;

fn records(r: &Ring<Vec<u8>>) -> Vec<u8> {
    let t = r.contents();
    let mut all = t.first.to_vec();
    all.extend_from_slice(t.second);
    all
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if data.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 384 {
        // A real ring's header over the rest.
        let mut ring = Ring::format(vec![0u8; bytes.len()]).unwrap();
        for (i, chunk) in data.chunks(37).take(20).enumerate() {
            let mut rec = format!("{{\"i\":{i},\"b\":{}}}", chunk.len()).into_bytes();
            rec.push(b'\n');
            let _ = ring.push(&rec, i % 2 == 0);
        }
        let cut = data.len() / 3;
        bytes[..cut].copy_from_slice(&ring.storage()[..cut]);
    }
    let Ok((mut r, rec)) = Ring::recover(bytes) else {
        return;
    };
    assert_eq!(r.records() as u64, rec.records);
    let got = records(&r);
    assert!(got.is_empty() || got.ends_with(b"\n"));
    assert_eq!(got.iter().filter(|&&b| b == b'\n').count() as u64, rec.records);
    let _ = r.push(b"{\"after\":1}\n", true);
    let n = r.transmit(100).len();
    r.mark_sent(n / 2);
    let before = records(&r);
    let (again, rec2) = Ring::recover(r.storage().clone()).unwrap();
    assert_eq!(records(&again), before);
    assert_eq!(rec2.damaged, 0);
});
