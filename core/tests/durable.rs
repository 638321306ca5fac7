//! The durable ring: a kill at any point between its writes, and damage of
//! any kind to its storage, recover only records that were pushed, whole,
//! in order; with no damage, exactly the records stored.

use alooma_core::{Cursor, FormatError, Found, Ring, FORMAT_VERSION};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn record(id: u64, len: usize) -> Vec<u8> {
    let mut r = format!("{{\"id\":{id},\"pad\":\"").into_bytes();
    while r.len() + 3 < len {
        r.push(b'a' + (id % 26) as u8);
    }
    r.extend_from_slice(b"\"}\n");
    r
}

fn id_of(r: &[u8]) -> u64 {
    let s = std::str::from_utf8(r).expect("utf-8");
    s[6..s.find(',').expect("id")].parse().expect("id")
}

fn records_of(ring: &Ring<Vec<u8>>) -> Vec<Vec<u8>> {
    let t = ring.contents();
    let mut all = t.first.to_vec();
    all.extend_from_slice(t.second);
    all.split_inclusive(|&b| b == b'\n')
        .map(|r| r.to_vec())
        .collect()
}

fn recover(bytes: &[u8]) -> (Ring<Vec<u8>>, alooma_core::Recovery) {
    Ring::recover(bytes.to_vec()).expect("recover never fails over damage")
}

/// Kept small under Miri, which runs every step a thousand times slower.
const MIRI: bool = cfg!(miri);

/// One random step on the ring; returns the record it pushed, if it did
/// (its writes then ran in the order: records, seals, header).
fn step(
    ring: &mut Ring<Vec<u8>>,
    rng: &mut Rng,
    next: &mut u64,
    drop_oldest: bool,
) -> Option<Vec<u8>> {
    match rng.below(10) {
        0..=4 => {
            let span = if rng.below(8) == 0 { 900 } else { 120 };
            let len = 12 + rng.below(span) as usize;
            let r = record(*next, len);
            *next += 1;
            ring.push(&r, drop_oldest).ok().map(|_| r)
        }
        5 | 6 => {
            let n = ring.transmit(1 + rng.below(400) as usize).len();
            let part = (n as u64 * rng.below(5) / 4) as usize;
            ring.mark_sent(part);
            None
        }
        7 => {
            let to = ring.confirmed_position() + rng.below(600);
            ring.confirm(to);
            None
        }
        8 => {
            ring.rewind();
            None
        }
        _ => {
            if rng.below(4) == 0 {
                ring.confirm_sent();
            }
            None
        }
    }
}

#[test]
fn a_kill_after_any_write_recovers_the_records_before_or_after_the_step() {
    for seed in 1..=if MIRI { 1 } else { 60u64 } {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let size = [384, 1000, 4096, 9000][seed as usize % 4];
        let drop_oldest = seed % 3 == 0;
        let mut ring = Ring::format(vec![0u8; size]).unwrap();
        let mut next = 0;
        for _ in 0..if MIRI { 12 } else { 400 } {
            let before_bytes = ring_bytes(&ring);
            let before = records_of(&ring);
            let lost = |r: &Ring<Vec<u8>>| r.stats().dropped_oldest + r.stats().discarded;
            let lost_before = lost(&ring);
            let pushed = step(&mut ring, &mut rng, &mut next, drop_oldest).is_some();
            let after_bytes = ring_bytes(&ring);
            let after = records_of(&ring);
            // Exactly what is stored, at every step boundary.
            let (r, rec) = recover(&after_bytes);
            if records_of(&r) != after {
                panic!(
                    "seed {seed}: stored {} recovered {} {:?} ring {:?}",
                    after.len(),
                    records_of(&r).len(),
                    rec,
                    ring
                );
            }
            assert_eq!(rec.damaged, 0);
            assert_eq!(rec.records as usize, after.len());
            // (Room made by dropping is written to the header first: a
            // kill then recovers that state, which this order cannot show.)
            if !pushed || lost(&ring) != lost_before {
                continue;
            }
            // A kill part way: the step's changed bytes applied in the
            // order they are written (records, seals, header).
            let changed: Vec<usize> = (0..size)
                .filter(|&i| before_bytes[i] != after_bytes[i])
                .collect();
            let head = |i: &&usize| **i < 256;
            let order: Vec<usize> = changed
                .iter()
                .filter(|i| !head(i))
                .chain(changed.iter().filter(head))
                .copied()
                .collect();
            // Every cut inside the header and the seals, a sample of those
            // inside the records.
            let first_head = order.iter().position(|&i| i < 256).unwrap_or(order.len());
            let step_by = (first_head / 16).max(1);
            let cuts = (0..first_head).step_by(step_by).chain(
                (first_head.saturating_sub(2)..order.len()).step_by(if MIRI { 24 } else { 1 }),
            );
            for cut in cuts {
                let mut mid = before_bytes.clone();
                for &i in &order[..cut] {
                    mid[i] = after_bytes[i];
                }
                let (r, rec) = recover(&mid);
                let got = records_of(&r);
                assert!(
                    got == before || got == after,
                    "seed {seed}: a kill mid-step recovered neither state"
                );
                assert_eq!(rec.damaged, 0, "seed {seed}: a kill is not damage");
            }
        }
    }
}

fn ring_bytes(ring: &Ring<Vec<u8>>) -> Vec<u8> {
    ring.storage().clone()
}

#[test]
fn damage_of_any_kind_recovers_only_pushed_records_whole_and_counts_the_rest() {
    let mut rng = Rng(0xDEAD_BEEF);
    let mut trials = 0;
    while trials < if MIRI { 2 } else { 1500 } {
        let size = if MIRI {
            2048
        } else {
            [2048, 4096, 20_000][rng.below(3) as usize]
        };
        let mut ring = Ring::format(vec![0u8; size]).unwrap();
        let mut next = 0;
        let mut pushed = std::collections::HashMap::new();
        for _ in 0..rng.below(if MIRI { 20 } else { 600 }) {
            let drop_oldest = rng.0 & 1 == 0;
            if let Some(r) = step(&mut ring, &mut rng, &mut next, drop_oldest) {
                pushed.insert(id_of(&r), r);
            }
        }
        let stored = records_of(&ring);
        let mut bytes = ring_bytes(&ring);
        let clean_before = bytes.clone();
        // Truncated (then read back as zeros past the cut), extended,
        // zeroed, or bits flipped.
        match rng.below(4) {
            0 => {
                let cut = rng.below(size as u64) as usize;
                bytes.truncate(cut);
                bytes.resize(size, 0);
            }
            1 => bytes.extend((0..rng.below(5000)).map(|_| rng.next() as u8)),
            2 => {
                let at = rng.below(size as u64) as usize;
                let n = 1 + rng.below(600) as usize;
                bytes[at..(at + n).min(size)].fill(0);
            }
            _ => {
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(size as u64) as usize;
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
        }
        let (r, rec) = recover(&bytes);
        let got = records_of(&r);
        // Records that were pushed, byte for byte, consecutive.
        let ids: Vec<u64> = got.iter().map(|g| id_of(g)).collect();
        for (g, id) in got.iter().zip(&ids) {
            assert_eq!(
                pushed.get(id),
                Some(g),
                "recovered bytes that were never pushed"
            );
        }
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "records out of order");
        assert_eq!(got.len() as u64, rec.records);
        // With both header slots as they were, the counts are exact (a
        // damaged newest slot reads as a write the process did not finish:
        // the state one step older is recovered).
        let head_intact = bytes.len() >= 256 && bytes[..256] == clean_before[..256];
        if head_intact && rec.found == Found::Ring {
            assert_eq!(rec.records + rec.damaged, stored.len() as u64);
        }
        if head_intact && got.len() < stored.len() {
            assert!(
                rec.damaged > 0 || rec.found == Found::Damaged,
                "records lost without a count"
            );
        }
        // The recovered ring works on, and recovers again.
        let mut r = r;
        let mut n = 1_000_000;
        for _ in 0..if MIRI { 10 } else { 50 } {
            step(&mut r, &mut rng, &mut n, false);
        }
        let again = records_of(&r);
        let (r2, rec2) = recover(&ring_bytes(&r));
        assert_eq!(records_of(&r2), again);
        assert_eq!(rec2.damaged, 0);
        trials += 1;
    }
}

#[test]
fn arbitrary_bytes_recover_without_panic() {
    let mut rng = Rng(42);
    for _ in 0..if MIRI { 2 } else { 3000 } {
        let len = 384 + rng.below(if MIRI { 600 } else { 3000 }) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            // A valid-looking start: a real header over noise.
            let ring = Ring::format(vec![0u8; len]).unwrap();
            b[..256].copy_from_slice(&ring.storage()[..256]);
        }
        let (r, rec) = recover(&b);
        assert_eq!(r.records() as u64, rec.records);
    }
}

#[test]
fn blank_storage_is_a_new_ring_and_noise_is_damage() {
    let (r, rec) = recover(&[0u8; 4096]);
    assert_eq!(
        (rec.found, rec.records, r.is_durable()),
        (Found::Blank, 0, true)
    );
    let (_, rec) = recover(&[7u8; 4096]);
    assert_eq!(rec.found, Found::Damaged);
    assert!(rec.damaged_bytes > 0);
    assert!(matches!(
        Ring::recover(vec![0u8; 100]),
        Err(FormatError::TooSmall { len: 100 })
    ));
}

#[test]
fn another_format_version_is_refused_not_overwritten() {
    let mut ring = Ring::format(vec![0u8; 4096]).unwrap();
    ring.push(&record(1, 40), false).unwrap();
    let mut b = ring.storage().clone();
    // Both slots claim version 2, with their CRCs made right.
    for slot in [0, 128] {
        b[slot + 8..slot + 12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let crc = crc32(&b[slot..slot + 92]);
        b[slot + 92..slot + 96].copy_from_slice(&crc.to_le_bytes());
    }
    match Ring::recover(b) {
        Err(FormatError::Version { found }) => assert_eq!(found, FORMAT_VERSION + 1),
        other => panic!("not refused: {:?}", other.map(|r| r.1)),
    }
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn recovered_records_go_first_and_count_as_recovered() {
    let mut ring = Ring::format(vec![0u8; 8192]).unwrap();
    for i in 0..20 {
        ring.push(&record(i, 60), false).unwrap();
    }
    // Five were sent and confirmed, five sent and in flight at the kill.
    let n = ring.transmit(usize::MAX).len();
    ring.mark_sent(n);
    let pos = ring.confirmed_position() + 5 * 60;
    ring.confirm(pos);
    let (mut r, rec) = recover(ring.storage());
    assert_eq!((rec.records, rec.damaged), (15, 0));
    let s = r.stats();
    assert_eq!((s.recovered, s.accepted, s.unsent), (15, 0, 15));
    assert!(matches!(
        r.poll_notification(),
        Some(alooma_core::Notification::Recovered {
            records: 15,
            damaged: 0,
            ..
        })
    ));
    let loss = r.loss();
    assert_eq!((loss.recovered, loss.damaged), (15, 0));
    r.push(&record(99, 60), false).unwrap();
    let t = r.transmit(usize::MAX);
    let mut sent = t.first.to_vec();
    sent.extend_from_slice(t.second);
    assert!(sent.starts_with(&record(5, 60)));
    assert!(sent.ends_with(&record(99, 60)));
    let s = r.stats();
    assert_eq!(s.accepted + s.recovered, s.unsent + s.window + s.delivered);
}
