//! What an SDK tells its user about itself: counters ([`Stats`]), the
//! outcome of a close ([`CloseReport`]) and of a flush ([`FlushError`]),
//! the same for every transport.

use crate::buffer::ring::RingStats;
use crate::send::sender::SenderStats;

/// Counters of an SDK, in events unless named otherwise.
///
/// Every valid event reported is counted once in `accepted` (an event
/// recovered from a durable buffer at start, once in `recovered`) and, at
/// any time, in exactly one of `delivered`, `unconfirmed`, `unsent` and
/// `dropped`: `delivered + unconfirmed + unsent + dropped == accepted +
/// recovered`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Valid events reported (the ones then refused for lack of room
    /// included; invalid ones are `rejected`).
    pub accepted: u64,
    /// Events recovered at start from a durable buffer (a buffer file), left
    /// there by an earlier process: sent before any new event. Those that
    /// were in flight when it ended may reach the collector twice.
    pub recovered: u64,
    /// Events the collector is known to have: confirmed by a clean close,
    /// by the collector's kernel acknowledging them plus its buffer, or by
    /// the replay limit (see the transport's delivery guarantees).
    pub delivered: u64,
    /// Events written at least once and not confirmed: the replay window
    /// (`in_window`, still held: they will be confirmed, or sent again if
    /// the connection is lost), events of a lost connection waiting to be
    /// written again (`rewound`), and written events dropped unconfirmed
    /// (`discarded`).
    pub unconfirmed: u64,
    /// Events in the buffer never written.
    pub unsent: u64,
    /// Events dropped before they were sent: `dropped_newest +
    /// dropped_oldest`.
    pub dropped: u64,
    /// Events refused as invalid or too large (not in `accepted`).
    pub rejected: u64,
    /// New events refused because the buffer was full.
    pub dropped_newest: u64,
    /// Unsent events dropped to make room (`WhenFull::DropOldest`).
    pub dropped_oldest: u64,
    /// Written events dropped unconfirmed to make room
    /// (`WhenFull::DropOldest`); late proof (the collector's answer or the
    /// confirmation rule reaching one after all) moves one to `delivered`.
    pub discarded: u64,
    /// Of `delivered`: events first discarded, then confirmed by late proof.
    pub late_confirmed: u64,
    /// Events sent and held until confirmed (the replay window).
    pub in_window: u64,
    /// Events written on a connection that was lost, held to be written
    /// again (part of `unconfirmed`).
    pub rewound: u64,
    /// Events written to a connection (replays included).
    pub sent: u64,
    /// Events written again after a lost connection (possible duplicates).
    pub replayed: u64,
    /// Buffer bytes in use (the replay window included).
    pub buffer_used: usize,
    /// Buffer bytes the replay window holds.
    pub window_bytes: usize,
    /// Buffer capacity in bytes.
    pub buffer_capacity: usize,
    /// Connection attempts.
    pub connects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Established connections later lost.
    pub disconnects: u64,
    /// Bytes written to connections.
    pub bytes_sent: u64,
    /// Loss marker records written (not events: in no other count).
    pub loss_markers: u64,
    /// The reconnection delays the SDK chose (backoff), added up, in ms.
    pub backoff_ms: u64,
    /// Times the driver woke up to do work (a thread's wakeups, or a
    /// guest's non-idle polls).
    pub wakeups: u64,
}

impl Stats {
    /// Combines the ring's and the sender's counters with the SDK's own.
    pub fn new(ring: RingStats, sender: SenderStats, rejected: u64, wakeups: u64) -> Self {
        Stats {
            accepted: ring.accepted + ring.dropped_newest,
            recovered: ring.recovered,
            delivered: ring.delivered,
            unconfirmed: ring.window + ring.rewound + ring.discarded,
            unsent: ring.unsent,
            dropped: ring.dropped_newest + ring.dropped_oldest,
            rejected,
            dropped_newest: ring.dropped_newest,
            dropped_oldest: ring.dropped_oldest,
            discarded: ring.discarded,
            late_confirmed: ring.late_confirmed,
            in_window: ring.window,
            rewound: ring.rewound,
            sent: ring.sent,
            replayed: ring.replayed,
            buffer_used: ring.bytes_used,
            window_bytes: ring.window_bytes,
            buffer_capacity: ring.capacity,
            connects: sender.connects,
            connect_failures: sender.connect_failures,
            disconnects: sender.disconnects,
            bytes_sent: sender.bytes_sent,
            loss_markers: sender.loss_markers,
            backoff_ms: sender.backoff_micros / 1000,
            wakeups,
        }
    }
}

/// What closing an SDK achieved: where every event ended.
/// `delivered + unconfirmed + unsent + dropped == accepted + recovered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReport {
    /// Valid events reported (refused ones included; see [`Stats::accepted`]).
    pub accepted: u64,
    /// Events recovered at start from a durable buffer (see
    /// [`Stats::recovered`]).
    pub recovered: u64,
    /// Events the collector is known to have (confirmed; each counted once).
    pub delivered: u64,
    /// Events written at least once without proof that the collector has
    /// them: the window of a connection that did not end cleanly, events
    /// of a lost connection not yet written again, and written events
    /// dropped unconfirmed under `DropOldest`.
    pub unconfirmed: u64,
    /// Events never written (still buffered when the deadline passed).
    pub unsent: u64,
    /// Events dropped before they were written: new ones refused for lack
    /// of room plus old ones dropped (`DropOldest`).
    pub dropped: u64,
    /// Events refused as invalid or too large (not in `accepted`).
    pub rejected: u64,
    /// Events sent more than once after lost connections (the collector may
    /// hold duplicates; `@uuid` tells them apart).
    pub replayed: u64,
    /// True when everything was sent and the last connection closed cleanly.
    pub clean: bool,
    /// True when the collector has proof of the final loss totals: the
    /// newest loss marker was confirmed and nothing was lost after it (or
    /// nothing was lost at all). False when loss markers are off and
    /// something was lost.
    pub loss_told: bool,
}

impl CloseReport {
    /// The report for a ring in this state; `clean` when the sender's close
    /// ended cleanly, `loss_told` when the collector has the final loss
    /// totals ([`Driver::loss_told`](crate::Driver::loss_told)).
    pub fn new(ring: RingStats, rejected: u64, clean: bool, loss_told: bool) -> Self {
        CloseReport {
            accepted: ring.accepted + ring.dropped_newest,
            recovered: ring.recovered,
            delivered: ring.delivered,
            unconfirmed: ring.window + ring.rewound + ring.discarded,
            unsent: ring.unsent,
            dropped: ring.dropped_newest + ring.dropped_oldest,
            rejected,
            replayed: ring.replayed,
            clean,
            loss_told,
        }
    }
}

/// A flush did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed with events still unsent.
    #[error("flush timed out with {unsent} events unsent")]
    Timeout {
        /// Events not yet sent.
        unsent: u64,
    },
    /// The SDK is closed.
    #[error("the SDK is closed")]
    Closed,
}
