//! Loss told in-band, exactly: the ring counts what it lost since start by
//! cause ([`Ring::loss`](crate::Ring::loss)); the driver turns a change of
//! those totals into a loss marker record ([`Loss`], event type
//! `alooma_loss`) and keeps telling the newest one until the collector
//! proves it has it ([`Told`]).
//!
//! A marker carries cumulative totals, the SDK instance that made it (random
//! per start) and its own sequence number, so it is idempotent: sent twice
//! it is the same bytes (its `@uuid` and `report_time` come from the marker,
//! not from the moment it is written), and a reader takes, per instance, the
//! marker with the highest `seq`: duplicates and lost intermediate markers
//! change nothing. A newer marker supersedes every older one, so only the
//! newest ever needs to reach the collector.

/// What one loss marker tells: totals since the SDK started, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    /// The SDK instance (random per start) whose losses these are.
    pub instance: u64,
    /// This marker's number in its instance (1, 2, …); 0 for the ring's
    /// own totals, not yet a marker.
    pub seq: u64,
    /// New records refused for lack of room, since start.
    pub refused: u64,
    /// Records dropped to make room before they were ever written
    /// (`DropOldest`), since start.
    pub dropped_oldest: u64,
    /// Records written and then dropped to make room before the collector
    /// proved it had them (`DropOldest`), since start: the collector may or
    /// may not have them. Late proof takes a record off this count.
    pub unconfirmed: u64,
    /// Wall-clock time (Unix ms) of the first and of the last loss of the
    /// latest episode, when the ring was told the time
    /// ([`Ring::set_clock`](crate::Ring::set_clock)).
    pub first_ms: Option<u64>,
    /// See `first_ms`.
    pub last_ms: Option<u64>,
    /// The ring's clock when the marker was made: its `report_time`.
    pub made_ms: Option<u64>,
    /// Records recovered from a durable ring at start (sent before new
    /// ones; those in flight at the end of the last process may arrive
    /// twice).
    pub recovered: u64,
    /// Records the durable ring held at the end of the last process that
    /// recovery found torn or damaged: lost.
    pub damaged: u64,
    /// Bytes of those records (with no usable header, the whole record
    /// area).
    pub damaged_bytes: u64,
}

impl Loss {
    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        // (`|`, not `+`: no carries, and no 64-bit adds on a 32-bit device.)
        (self.refused | self.dropped_oldest | self.unconfirmed) == 0 && !self.any_recovery()
    }

    /// True when a durable ring recovered or lost records at start.
    pub fn any_recovery(&self) -> bool {
        (self.recovered | self.damaged | self.damaged_bytes) != 0
    }

    /// True when both tell the same counts.
    pub fn same_counts(&self, other: &Loss) -> bool {
        (self.refused, self.dropped_oldest, self.unconfirmed)
            == (other.refused, other.dropped_oldest, other.unconfirmed)
            && (self.recovered, self.damaged, self.damaged_bytes)
                == (other.recovered, other.damaged, other.damaged_bytes)
    }

    /// The marker's `@uuid` bytes: made from its instance and sequence, so
    /// the marker written again is byte-identical.
    pub fn uuid(&self) -> [u8; 16] {
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&mix(self.instance ^ self.seq).to_le_bytes());
        u[8..].copy_from_slice(&mix(self.instance.rotate_left(32) ^ !self.seq).to_le_bytes());
        u
    }

    /// The marker's own stamps: `report_time` from when it was made (with
    /// `time`), `@uuid` from [`uuid`](Self::uuid) (with `uuid`), so that
    /// written again it is the same bytes.
    pub fn stamp(&self, time: bool, uuid: bool) -> crate::wire::stamp::Stamp {
        crate::wire::stamp::Stamp {
            time: self
                .made_ms
                .filter(|_| time)
                .map(crate::wire::stamp::UnixMillis),
            uuid: uuid.then(|| self.uuid()),
            location: None,
        }
    }

    /// The instance id as the marker writes it: 16 hex digits.
    pub fn instance_hex(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        // (32-bit halves: no 64-bit shifts on a 32-bit device.)
        let (hi, lo) = ((self.instance >> 32) as u32, self.instance as u32);
        for (i, c) in b.iter_mut().enumerate() {
            let w = if i < 8 { hi } else { lo };
            *c = b"0123456789abcdef"[(w >> (28 - 4 * (i & 7)) & 0xf) as usize];
        }
        b
    }
}

/// splitmix64's finaliser: spreads every bit of `x` over the result.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What proves a marker written on the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Confirmed by the link's bytes: the connection's byte count at the
    /// marker's end (the confirmation rule applies to it as to any record).
    Bytes(u64),
    /// Confirmed by an answer: its frame's answer id (RELP: transaction
    /// number).
    Answer(u32),
}

/// The driver's side of loss markers: the newest marker made, the newest
/// the collector proved it has, and the one written on this connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Told {
    instance: u64,
    /// The newest marker made (its `seq` is the instance's count; 0: none
    /// made yet). Kept in place: the driver encodes it from here.
    newest: Loss,
    /// The highest `seq` the collector proved it has (0: none).
    confirmed: u64,
    /// The newest marker written on this connection, and what proves it.
    written: Option<(u64, Proof)>,
}

impl Told {
    pub(crate) fn new(instance: u64) -> Self {
        Told {
            instance,
            newest: Loss::default(),
            confirmed: 0,
            written: None,
        }
    }

    /// The marker to write now, if one is due: a new one when the ring's
    /// totals changed since the newest, or the newest again when this
    /// connection has not carried it and the collector has not proved it.
    pub(crate) fn due(&mut self, ring: &Loss) -> Option<&Loss> {
        let changed = match self.newest.seq {
            0 => !ring.is_empty(),
            _ => !self.newest.same_counts(ring),
        };
        if changed {
            let seq = self.newest.seq + 1;
            self.newest = *ring;
            self.newest.instance = self.instance;
            self.newest.seq = seq;
        }
        let seq = self.newest.seq;
        let carried = self.written.is_some_and(|(s, _)| s == seq);
        (seq > self.confirmed && !carried).then_some(&self.newest)
    }

    /// The newest marker made (the one [`due`](Self::due) said is due).
    pub(crate) fn newest(&self) -> &Loss {
        &self.newest
    }

    /// Marker `seq` was put on this connection; `proof` will prove it.
    pub(crate) fn wrote(&mut self, seq: u64, proof: Proof) {
        self.written = Some((seq, proof));
    }

    /// Everything on this connection up to byte `bytes` is proved (the
    /// confirmation rule, or a clean close with `u64::MAX`).
    pub(crate) fn proved_bytes(&mut self, bytes: u64) {
        if let Some((seq, Proof::Bytes(end))) = self.written {
            if end <= bytes {
                self.confirm(seq);
            }
        }
    }

    /// The collector answered every frame up to answer id `txnr`.
    pub(crate) fn proved_answer(&mut self, txnr: u32) {
        if let Some((seq, Proof::Answer(t))) = self.written {
            if t <= txnr {
                self.confirm(seq);
            }
        }
    }

    /// A clean close: the collector read everything on the connection.
    pub(crate) fn closed_clean(&mut self) {
        if let Some((seq, _)) = self.written {
            self.confirm(seq);
        }
    }

    fn confirm(&mut self, seq: u64) {
        self.confirmed = self.confirmed.max(seq);
        self.written = None;
    }

    /// The connection is gone: what it carried without proof is due again.
    pub(crate) fn lost(&mut self) {
        self.written = None;
    }

    /// True when the collector has proof of totals equal to `ring`'s (or
    /// nothing was ever lost).
    pub(crate) fn all_told(&self, ring: &Loss) -> bool {
        match self.newest.seq {
            0 => ring.is_empty(),
            seq => self.newest.same_counts(ring) && self.confirmed == seq,
        }
    }

    /// The instance id.
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    /// Markers made so far.
    pub(crate) fn made(&self) -> u64 {
        self.newest.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_as_16_hex_digits() {
        for instance in [0, 1, 0xfedc_ba98_7654_3210, u64::MAX, 0x0000_0001_0000_0000] {
            let l = Loss {
                instance,
                ..Loss::default()
            };
            let want = std::format!("{instance:016x}");
            assert_eq!(&l.instance_hex()[..], want.as_bytes());
        }
    }

    fn ring(refused: u64) -> Loss {
        Loss {
            refused,
            ..Loss::default()
        }
    }

    #[test]
    fn newest_supersedes_and_repeats_until_proved() {
        let mut t = Told::new(7);
        assert_eq!(t.due(&ring(0)), None);
        let m1 = *t.due(&ring(3)).unwrap();
        assert_eq!((m1.seq, m1.refused, m1.instance), (1, 3, 7));
        t.wrote(1, Proof::Bytes(100));
        // Carried by this connection: not due again.
        assert_eq!(t.due(&ring(3)), None);
        // More loss: a new marker with the new totals.
        let m2 = *t.due(&ring(5)).unwrap();
        assert_eq!((m2.seq, m2.refused), (2, 5));
        t.wrote(2, Proof::Bytes(200));
        t.proved_bytes(150);
        assert!(!t.all_told(&ring(5)));
        // Lost connection: the newest goes again, identical.
        t.lost();
        assert_eq!(t.due(&ring(5)), Some(&m2));
        assert_eq!(m2.uuid(), t.due(&ring(5)).unwrap().uuid());
        t.wrote(2, Proof::Answer(4));
        t.proved_answer(4);
        assert!(t.all_told(&ring(5)));
        assert_eq!(t.due(&ring(5)), None);
        assert_ne!(m1.uuid(), m2.uuid());
    }
}
