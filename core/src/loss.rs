//! What was lost, for the in-band loss marker: records refused or dropped
//! for lack of room, by cause, with the time span and where in the stream
//! the gap is. The ring counts them ([`Ring::take_loss`](crate::Ring::take_loss));
//! the driver writes the marker.

/// Records lost since the last loss marker was taken
/// ([`Ring::take_loss`](crate::Ring::take_loss)): what an in-band marker record tells the collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    /// New records refused for lack of room.
    pub refused: u64,
    /// Unsent records dropped to make room (`DropOldest`).
    pub dropped_oldest: u64,
    /// Sent, unconfirmed records dropped to make room (`DropOldest`): the
    /// collector may or may not have them.
    pub discarded: u64,
    /// Wall-clock time (Unix ms) of the first and of the last loss, when
    /// the ring was told the time ([`Ring::set_clock`](crate::Ring::set_clock)).
    pub first_ms: Option<u64>,
    /// See `first_ms`.
    pub last_ms: Option<u64>,
    /// Stream position of the earliest gap: a marker goes before the first
    /// record sent from here on.
    pub at: u64,
}

impl Loss {
    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.refused + self.dropped_oldest + self.discarded == 0
    }

    /// Adds `other` to this loss (counts, time span, earliest gap).
    pub fn merge(&mut self, other: &Loss) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = *other;
            return;
        }
        self.refused += other.refused;
        self.dropped_oldest += other.dropped_oldest;
        self.discarded += other.discarded;
        self.first_ms = match (self.first_ms, other.first_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ms = self.last_ms.max(other.last_ms);
        self.at = self.at.min(other.at);
    }
}
