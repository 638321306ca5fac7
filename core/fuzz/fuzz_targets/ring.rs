//! Random pushes, transmits, partial sends, lost and clean connections on a
//! small ring: capacity never exceeded, records never torn or reordered,
//! counters consistent.
#![no_main]
use alooma_core::{Cursor, Ring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ring: Ring<[u8; 300]> = Ring::new();
    let drop_oldest = data.first().is_some_and(|b| b & 1 == 1);
    let mut next = 0u32;
    let mut last_sent_id: Option<u32> = None;
    let mut pending_partial: Vec<u8> = Vec::new();
    for pair in data.chunks(2) {
        let (op, arg) = (pair[0], *pair.get(1).unwrap_or(&0));
        match op % 6 {
            0 | 1 => {
                let len = 4 + arg as usize % 100;
                let mut r = format!("{next}:").into_bytes();
                r.resize(len.max(r.len() + 1) - 1, b'x');
                r.push(b'\n');
                next += 1;
                let _ = ring.push(&r, drop_oldest);
            }
            2 => {
                let t = ring.transmit(1 + arg as usize * 2);
                let mut b = t.first.to_vec();
                b.extend_from_slice(t.second);
                let n = b.len() * (op as usize % 4) / 3;
                pending_partial.extend_from_slice(&b[..n]);
                // Every complete line is a whole record, ids increasing
                // (a replay may restart earlier).
                while let Some(i) = pending_partial.iter().position(|&c| c == b'\n') {
                    let line: Vec<u8> = pending_partial.drain(..=i).collect();
                    let s = std::str::from_utf8(&line).unwrap();
                    let id: u32 = s.split(':').next().unwrap().parse().unwrap();
                    assert!(s.trim_end().bytes().skip_while(|c| *c != b':').skip(1).all(|c| c == b'x'));
                    last_sent_id = Some(id);
                }
                ring.mark_sent(n);
            }
            3 => {
                ring.rewind();
                pending_partial.clear();
            }
            4 => {
                ring.confirm(ring.confirmed_position() + arg as u64 * 3);
            }
            _ => {
                ring.confirm_sent();
                pending_partial.clear();
            }
        }
        assert!(ring.len() <= ring.capacity());
        let c = ring.contents();
        let mut all = c.first.to_vec();
        all.extend_from_slice(c.second);
        assert_eq!(all.len(), ring.len());
        assert_eq!(all.iter().filter(|&&b| b == b'\n').count(), ring.records());
        assert!(all.is_empty() || *all.last().unwrap() == b'\n');
        let ids: Vec<u32> = all
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| std::str::from_utf8(l).unwrap().split(':').next().unwrap().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let st = ring.stats();
        assert_eq!(st.window + st.rewound + st.unsent, ring.records() as u64);
        assert_eq!(
            st.delivered + st.discarded + st.window + st.rewound + st.unsent + st.dropped_oldest,
            st.accepted
        );
    }
    let _ = last_sent_id;
});
