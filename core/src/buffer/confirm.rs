//! The confirmation rule: when a record sent over plain TCP counts as
//! delivered and leaves the replay window. A clean close confirms everything
//! sent on the connection ([`Ring::confirm_sent`](crate::Ring::confirm_sent));
//! between closes one of the rules below applies; with RELP only the
//! collector's answers confirm ([`Ring::confirm_record`](crate::Ring::confirm_record)).
//! The [`Sender`](crate::Sender) applies the rule; the ring keeps the window.

/// Where a record's confirmation comes from (besides a clean close and the
/// collector's own acknowledgement,
/// [`Sender::confirm_through`](crate::Sender::confirm_through)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// The transport reports the bytes the collector's kernel acknowledged
    /// ([`Sender::on_acked`](crate::Sender::on_acked)): a record is
    /// confirmed once acknowledged plus `peer_buffer` more bytes (what the
    /// collector can hold unread).
    Acked {
        /// Bytes the collector's buffers can hold unread.
        peer_buffer: usize,
    },
    /// The transport cannot see acknowledgements: a record is confirmed once
    /// `replay_limit` more bytes were written after it on the same connection.
    Written {
        /// Bytes that can sit between us and the collector's process.
        replay_limit: usize,
    },
    /// The collector answers for each record (RELP): only its answers
    /// confirm.
    Collector,
}

impl Confirm {
    /// Rule [`Confirm::Written`]: the ring stream position up to which
    /// records are confirmed once everything up to `sent` was written
    /// (`None`: nothing yet, or another rule).
    pub fn written(&self, sent: u64) -> Option<u64> {
        match *self {
            Confirm::Written { replay_limit } => sent.checked_sub(replay_limit as u64),
            _ => None,
        }
    }

    /// Rule [`Confirm::Acked`]: the ring stream position up to which records
    /// are confirmed when the collector's kernel acknowledged `acked` bytes
    /// of a connection that began at ring position `start` and carried
    /// `extra` bytes that are not the ring's (loss markers). Those are in the
    /// acknowledged count but not in the ring: taking all of them off counts
    /// low, never high. `None`: nothing yet, or another rule.
    pub fn acked(&self, start: u64, acked: u64, extra: u64) -> Option<u64> {
        match *self {
            Confirm::Acked { peer_buffer } => {
                (start + acked).checked_sub(extra + peer_buffer as u64)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Confirm;

    #[test]
    fn rules() {
        let w = Confirm::Written { replay_limit: 100 };
        assert_eq!(w.written(99), None);
        assert_eq!(w.written(150), Some(50));
        assert_eq!(w.acked(0, 500, 0), None);
        let a = Confirm::Acked { peer_buffer: 100 };
        assert_eq!(a.acked(1000, 50, 0), Some(950));
        assert_eq!(a.acked(1000, 150, 20), Some(1030));
        assert_eq!(a.acked(0, 50, 0), None);
        assert_eq!(a.written(1000), None);
        assert_eq!(Confirm::Collector.acked(0, 1 << 20, 0), None);
    }
}
