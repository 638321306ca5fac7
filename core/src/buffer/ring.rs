//! A fixed-capacity ring of encoded wire records.
//!
//! Records are stored whole and contiguous (a bip buffer: data lives in one
//! or two regions, so the sender writes straight from at most two slices).
//! In stream order the ring holds: the *window* (records sent and not yet
//! confirmed), then the *unsent* records, then free space. Three cursors
//! move forward: `push` appends, the driver's writes advance the sent
//! cursor, and [`Ring::confirm`] advances the confirmed cursor (the oldest
//! stored byte). A record leaves the window only when it is confirmed; no
//! full-buffer policy takes its room silently: `DropOldest` may discard
//! window records, and counts them [`RingStats::discarded`] (sent, fate
//! unknown) until proof for them arrives after all (late proof: they move
//! to `delivered`). After a connection is lost, [`Ring::rewind`] sends the
//! whole window again; until they are written again those records count
//! as [`RingStats::rewound`] (written once, never confirmed), not unsent.
//!
//! Every accepted record is, at any time, in exactly one of: `delivered`
//! (confirmed), `discarded` (written, then dropped unconfirmed), the window,
//! rewound, unsent (never written), or `dropped_oldest` (dropped before it
//! was ever written).
//!
//! Records are compact JSON ending in `\n` and hold no other newline, so the
//! newline is the record boundary.

use crate::api::error::{EncodeError, ReportError};
use crate::buffer::loss::Loss;

/// Runs of discarded records kept for late proof; past that the oldest run
/// stays unconfirmed for good (counting low, never high).
const MAX_GONE: usize = 8;
use crate::api::notify::Notification;
use crate::wire::out::Out;

/// Where a ring keeps its bytes: a fixed array, a caller slice, or (feature
/// `alloc`) the heap.
pub trait Storage {
    /// True for storage that can outlive its process (a mapped file, RAM
    /// a device keeps across a warm reset, a copy a test keeps): only then
    /// can a ring over it be durable ([`Ring::format`], [`Ring::recover`]).
    /// A ring over other storage has none of the durable ring's code
    /// (about 5 KB of a Wasm guest, 2 KB of flash).
    const PERSISTS: bool = false;
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes, mutably.
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl<const N: usize> Storage for [u8; N] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Storage for &mut [u8] {
    const PERSISTS: bool = true;
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[cfg(feature = "alloc")]
impl Storage for alloc::vec::Vec<u8> {
    const PERSISTS: bool = true;
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[cfg(feature = "alloc")]
impl Storage for alloc::boxed::Box<[u8]> {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// Counters kept by a ring, in records unless named otherwise.
///
/// `accepted + recovered == delivered + discarded + window + rewound +
/// unsent + dropped_oldest` at all times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Records accepted by `push`.
    pub accepted: u64,
    /// New records refused because the buffer was full (not accepted).
    pub dropped_newest: u64,
    /// Records never written, dropped to make room (policy `DropOldest`).
    pub dropped_oldest: u64,
    /// Records written at least once, dropped before they were confirmed,
    /// to make room (policy `DropOldest`): their fate is unknown (late
    /// proof moves one to `delivered`).
    pub discarded: u64,
    /// Records confirmed (the collector has them): removed from the ring.
    pub delivered: u64,
    /// Of `delivered`: records discarded first, then confirmed by proof
    /// that arrived after (late proof).
    pub late_confirmed: u64,
    /// Records written to a connection (replays included).
    pub sent: u64,
    /// Records written again after a connection was lost (possible duplicates).
    pub replayed: u64,
    /// Records sent and kept until they are confirmed (the replay window).
    pub window: u64,
    /// Bytes of the replay window.
    pub window_bytes: usize,
    /// Records in the ring never written.
    pub unsent: u64,
    /// Records in the ring written on a connection that was then lost,
    /// waiting to be written again (unconfirmed, not unsent).
    pub rewound: u64,
    /// Bytes in use (the window included).
    pub bytes_used: usize,
    /// Capacity in bytes.
    pub capacity: usize,
    /// Records recovered from a durable ring's storage at start (see
    /// [`Ring::recover`]): stored before this process, sent before any new
    /// record, counted here instead of `accepted`.
    pub recovered: u64,
}

/// A record accepted by [`Ring::push_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Bytes stored.
    pub len: usize,
    /// Unsent records dropped to make room for it (policy `DropOldest`).
    pub dropped_oldest: usize,
    /// Sent, unconfirmed records dropped to make room for it (policy
    /// `DropOldest`): their fate is unknown.
    pub discarded: usize,
}

#[derive(Clone, Copy)]
enum Lost {
    Refused,
    DroppedOldest(u64),
    Discarded(u64),
}

/// A run of consecutive discarded window records awaiting late proof:
/// their indexes and where the last one ended in the written stream (the
/// stream position less the bytes that left the front unwritten, see
/// `Ring::skipped`).
#[derive(Debug, Clone, Copy)]
struct Gone {
    first: u64,
    count: u64,
    end: u64,
}

/// Bytes to write next: at most two slices, in order.
#[derive(Debug, Clone, Copy)]
pub struct Transmit<'a> {
    /// First part.
    pub first: &'a [u8],
    /// Second part (after the ring wrapped), often empty.
    pub second: &'a [u8],
}

impl Transmit<'_> {
    /// Total bytes.
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The record ring. `S` is the storage: `[u8; N]` for a `static`
/// (`Ring::new()` is `const`), `&mut [u8]`, or `Box<[u8]>`.
pub struct Ring<S> {
    pub(super) buf: S,
    /// A durable ring's record of itself (see [`crate::buffer::durable`]).
    pub(super) journal: Option<crate::buffer::durable::Journal>,
    // Region A is [a_start, a_end); region B, when wrapped, is [0, b_end)
    // with b_end <= a_start (a durable ring: <= a_start's block). B follows
    // A in record order. Offsets are into the record area.
    pub(super) a_start: usize,
    pub(super) a_end: usize,
    pub(super) b_end: usize,
    pub(super) wrapped: bool,
    /// Bytes (from the oldest record) already written to the connection.
    sent: usize,
    /// Bytes after `sent` handed to the driver by `transmit`.
    in_flight: usize,
    pub(super) records: usize,
    sent_records: usize,
    /// Absolute stream position of the oldest stored byte.
    base: u64,
    /// Index of the oldest stored record (records leaving the front count).
    first_record: u64,
    /// Unsent records (the first ones after the window) written on a
    /// connection that was lost.
    rewound: usize,
    /// Discarded window records that proof may still reach.
    gone: heapless::Deque<Gone, MAX_GONE>,
    /// Bytes of records that left the front of the ring without being
    /// written on the current connection (dropped unsent, or rewound): the
    /// stream position moves past them, the connection's bytes do not, so
    /// late proof (measured in written bytes) takes them off.
    skipped: u64,
    pub(super) stats: RingStats,
    /// What recovery brought back: records, records damaged, bytes damaged.
    pub(super) recovery: Option<(u64, u64, u64)>,
    pub(super) note_recovered: bool,
    /// A loss episode is open (see [`Ring::poll_notification`]).
    full: bool,
    /// The size of the last record refused for room, until one is stored
    /// (see [`refuse_while_full`](Ring::refuse_while_full)).
    refused_size: Option<usize>,
    /// The open episode's losses by cause: refused, dropped, discarded.
    episode: [u64; 3],
    /// Records accepted since the episode's last loss, and how many the
    /// ring held then: the episode ends once the ring turned over.
    quiet: (usize, usize),
    note_full: bool,
    note_freed: Option<[u64; 3]>,
    /// The latest episode's first and last loss (Unix ms).
    span: (Option<u64>, Option<u64>),
    clock_ms: Option<u64>,
}

impl<S> core::fmt::Debug for Ring<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("a", &(self.a_start..self.a_end))
            .field("b_end", &self.b_end)
            .field("wrapped", &self.wrapped)
            .field("sent", &self.sent)
            .field("in_flight", &self.in_flight)
            .field("records", &self.records)
            .field("sent_records", &self.sent_records)
            .finish()
    }
}

impl<const N: usize> Ring<[u8; N]> {
    /// An empty ring of `N` bytes, usable in a `static`.
    pub const fn new() -> Self {
        Ring::with_storage([0; N])
    }
}

impl<const N: usize> Default for Ring<[u8; N]> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "alloc")]
impl Ring<alloc::boxed::Box<[u8]>> {
    /// An empty ring of `capacity` bytes on the heap.
    pub fn with_capacity(capacity: usize) -> Self {
        Ring::with_storage(alloc::vec![0u8; capacity].into_boxed_slice())
    }
}

// Records end in their only newline: finding record boundaries is finding
// newlines, with `memchr` (vectorised where the target allows).

/// Offset of the first newline.
#[inline]
pub(crate) fn find_nl(b: &[u8]) -> Option<usize> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return memchr::memchr(b'\n', b);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return b.iter().position(|&c| c == b'\n');
}

/// Offset of the last newline.
#[inline]
fn rfind_nl(b: &[u8]) -> Option<usize> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return memchr::memrchr(b'\n', b);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return b.iter().rposition(|&c| c == b'\n');
}

/// Walks up to `k` whole records from the start of `b`: where the last one
/// walked ends, and how many of the `k` were not in `b`.
fn walk_records(b: &[u8], k: usize) -> (usize, usize) {
    let (mut at, mut left) = (0, k);
    while left > 0 {
        match find_nl(&b[at..]) {
            Some(i) => at += i + 1,
            None => break,
        }
        left -= 1;
    }
    (at, left)
}

/// Newlines in `b`: memchr's vector search where the target has vectors;
/// in Wasm without SIMD 8 bytes per step with a few integer operations,
/// which there was 5x faster than memchr's portable count; on a device a
/// byte at a time (a 32-bit core gains little from 64-bit words: 180 bytes
/// of flash less).
#[inline]
pub(crate) fn count_newlines(b: &[u8]) -> usize {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return memchr::memchr_iter(b'\n', b).count();
    #[cfg(target_os = "none")]
    return b.iter().filter(|&&c| c == b'\n').count();
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_os = "none")))]
    return count_newlines_swar(b);
}

/// The portable count: exact (no false positives across bytes).
#[cfg_attr(
    any(target_arch = "x86_64", target_arch = "aarch64", target_os = "none"),
    allow(dead_code)
)]
fn count_newlines_swar(b: &[u8]) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut chunks = b.chunks_exact(8);
    let mut n = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ NL;
        // High bit set in each byte of `x` that is zero (a newline).
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        n += zero.count_ones() as usize;
    }
    n + chunks.remainder().iter().filter(|&&c| c == b'\n').count()
}

impl<S: Storage> Ring<S> {
    /// An empty ring over `storage`.
    pub const fn with_storage(storage: S) -> Self {
        Ring {
            buf: storage,
            journal: None,
            a_start: 0,
            a_end: 0,
            b_end: 0,
            wrapped: false,
            sent: 0,
            in_flight: 0,
            records: 0,
            sent_records: 0,
            base: 0,
            first_record: 0,
            rewound: 0,
            gone: heapless::Deque::new(),
            skipped: 0,
            stats: RingStats {
                accepted: 0,
                dropped_newest: 0,
                dropped_oldest: 0,
                discarded: 0,
                delivered: 0,
                late_confirmed: 0,
                sent: 0,
                replayed: 0,
                window: 0,
                window_bytes: 0,
                unsent: 0,
                rewound: 0,
                bytes_used: 0,
                capacity: 0,
                recovered: 0,
            },
            recovery: None,
            note_recovered: false,
            full: false,
            refused_size: None,
            episode: [0; 3],
            quiet: (0, 0),
            note_full: false,
            note_freed: None,
            span: (None, None),
            clock_ms: None,
        }
    }

    /// The storage (a durable ring's: its header and seals included).
    pub fn storage(&self) -> &S {
        &self.buf
    }

    /// Capacity in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        match self.journal() {
            Some(j) => j.layout.capacity(),
            None => self.buf.bytes().len(),
        }
    }

    /// A durable ring's record of itself (never, for storage that cannot
    /// outlive its process: then none of that code is there).
    #[inline(always)]
    pub(super) fn journal(&self) -> Option<&crate::buffer::durable::Journal> {
        if S::PERSISTS {
            self.journal.as_ref()
        } else {
            None
        }
    }

    /// The record area (a durable ring's follows its header and seals).
    #[inline]
    fn data(&self) -> &[u8] {
        match self.journal() {
            Some(j) => &self.buf.bytes()[j.layout.data..j.layout.total()],
            None => self.buf.bytes(),
        }
    }

    /// The record area, mutably.
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        match self.journal() {
            Some(j) => {
                let (from, to) = (j.layout.data, j.layout.total());
                &mut self.buf.bytes_mut()[from..to]
            }
            None => self.buf.bytes_mut(),
        }
    }

    /// Where region B may grow to: the oldest record's start, or for a
    /// durable ring the start of its block (a block holds one run of
    /// writes, so its seal stays true).
    #[inline]
    fn a_floor(&self) -> usize {
        self.a_start & !(self.seal_block() - 1)
    }

    fn a_len(&self) -> usize {
        self.a_end - self.a_start
    }

    /// Bytes stored (the window included).
    pub fn len(&self) -> usize {
        self.a_len() + if self.wrapped { self.b_end } else { 0 }
    }

    /// True when no record is stored.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records stored (the window included).
    pub fn records(&self) -> usize {
        self.records
    }

    /// Records sent and kept until confirmed (the replay window).
    pub fn window_records(&self) -> usize {
        self.sent_records
    }

    /// Bytes sent and kept until confirmed (a partly sent record included).
    pub fn window_bytes(&self) -> usize {
        self.sent
    }

    /// Records not yet (completely) sent.
    pub fn unsent_records(&self) -> usize {
        self.records - self.sent_records
    }

    /// Free bytes (a record also needs them contiguous, so a record this
    /// large may still not fit right after a wrap).
    pub fn available(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Bytes not yet sent (in flight included).
    pub fn unsent_bytes(&self) -> usize {
        self.len() - self.sent
    }

    /// Bytes waiting that are not already handed to the driver.
    pub fn pending_bytes(&self) -> usize {
        self.len() - self.sent - self.in_flight
    }

    /// Bytes handed to the driver to write (`transmit`) and not yet
    /// reported back.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Absolute position in the record stream up to which bytes were sent.
    /// Positions of stored bytes never change (a rewind moves this cursor
    /// back to [`confirmed_position`](Self::confirmed_position)).
    pub fn sent_position(&self) -> u64 {
        self.base + self.sent as u64
    }

    /// True when the next byte to send starts a record (nothing of a record
    /// was written partly): something else may be written to the
    /// connection here without tearing a record.
    pub fn at_record_boundary(&self) -> bool {
        if self.sent == 0 {
            return true;
        }
        let (a, b) = self.slices(self.sent - 1, self.sent);
        a.last().or(b.last()) == Some(&b'\n')
    }

    /// Absolute position in the record stream of the oldest stored byte:
    /// everything before it was confirmed or dropped.
    pub fn confirmed_position(&self) -> u64 {
        self.base
    }

    /// Counters.
    pub fn stats(&self) -> RingStats {
        let mut s = self.stats;
        s.window = self.sent_records as u64;
        s.window_bytes = self.sent;
        s.rewound = self.rewound as u64;
        s.unsent = (self.unsent_records() - self.rewound) as u64;
        s.bytes_used = self.len();
        s.capacity = self.capacity();
        s
    }

    /// The logical byte range `[from, to)` as at most two slices.
    fn slices(&self, from: usize, to: usize) -> (&[u8], &[u8]) {
        let b = self.data();
        let a_len = self.a_len();
        let first = if from < a_len {
            &b[self.a_start + from..self.a_start + to.min(a_len)]
        } else {
            &[][..]
        };
        let second = if to > a_len {
            &b[from.max(a_len) - a_len..to - a_len]
        } else {
            &[][..]
        };
        (first, second)
    }

    /// Every stored record, oldest first, as at most two slices (for
    /// inspection and tests).
    pub fn contents(&self) -> Transmit<'_> {
        let (first, second) = self.slices(0, self.len());
        Transmit { first, second }
    }

    fn empty_reset(&mut self) {
        self.a_start = 0;
        self.a_end = 0;
        self.b_end = 0;
        self.wrapped = false;
    }

    /// Start of a contiguous free region of `need` bytes, if there is one.
    fn reserve(&self, need: usize) -> Option<usize> {
        let cap = self.capacity();
        if self.records == 0 {
            return (need <= cap).then_some(0);
        }
        if self.wrapped {
            (self.a_floor() - self.b_end >= need).then_some(self.b_end)
        } else if cap - self.a_end >= need {
            Some(self.a_end)
        } else if self.a_floor() >= need {
            Some(0)
        } else {
            None
        }
    }

    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn commit(&mut self, start: usize, n: usize) {
        if self.records == 0 {
            self.empty_reset();
            self.a_end = n;
        } else if self.wrapped {
            self.b_end += n;
        } else if start == self.a_end {
            self.a_end += n;
        } else {
            self.wrapped = true;
            self.b_end = n;
        }
        self.records += 1;
        self.stats.accepted += 1;
        self.refused_size = None;
        if self.journal().is_some() {
            self.jot_commit(start, n);
        }
    }

    /// Length of the oldest record.
    fn front_len(&self) -> usize {
        let region = &self.data()[self.a_start..self.a_end];
        match find_nl(region) {
            Some(i) => i + 1,
            None => region.len(), // unreachable for well-formed records
        }
    }

    /// Removes the oldest record unconfirmed (to make room); returns
    /// whether it had been written (in the window, or rewound).
    fn pop_front(&mut self) -> bool {
        let len = self.front_len();
        let in_window = self.sent_records > 0;
        let index = self.first_record;
        self.a_start += len;
        self.base += len as u64;
        self.first_record += 1;
        self.records -= 1;
        let was_sent = if in_window {
            self.sent -= len;
            self.sent_records -= 1;
            // Proof for it may still come on this connection.
            self.note_gone(index, self.base - self.skipped);
            true
        } else {
            self.skipped += len as u64;
            if self.rewound > 0 {
                self.rewound -= 1;
                true
            } else {
                false
            }
        };
        if self.a_start == self.a_end {
            if self.wrapped {
                self.a_start = 0;
                self.a_end = self.b_end;
                self.b_end = 0;
                self.wrapped = false;
            } else {
                self.empty_reset();
            }
        }
        if self.records == 0 {
            self.empty_reset();
        }
        was_sent
    }

    /// Window record `index`, ending at stream position `end`, was
    /// discarded: kept in a run for late proof.
    fn note_gone(&mut self, index: u64, end: u64) {
        if let Some(g) = self.gone.back_mut() {
            if g.first + g.count == index {
                g.count += 1;
                g.end = end;
                return;
            }
        }
        if self.gone.is_full() {
            self.gone.pop_front();
        }
        let _ = self.gone.push_back(Gone {
            first: index,
            count: 1,
            end,
        });
    }

    /// Late proof: discarded records with an index up to `index` (`None`:
    /// any), or ending at or before stream position `pos`, move from
    /// `discarded` to `delivered`.
    fn prove_gone(&mut self, index: Option<u64>, pos: u64) {
        // In written bytes: what left the front unwritten proves nothing.
        let pos = pos.saturating_sub(self.skipped);
        while let Some(g) = self.gone.front_mut() {
            let k = if g.end <= pos {
                g.count
            } else {
                match index {
                    Some(i) if i >= g.first => (i - g.first + 1).min(g.count),
                    _ => 0,
                }
            };
            if k == 0 {
                break;
            }
            self.stats.discarded -= k;
            self.stats.delivered += k;
            self.stats.late_confirmed += k;
            if k < g.count {
                g.first += k;
                g.count -= k;
                break;
            }
            self.gone.pop_front();
        }
    }

    /// Stores one record: `encode` writes it into the [`Out`] it is given
    /// and returns its length. It may be called more than once (once more to
    /// count when the first try does not fit, once more after making room),
    /// so it must write the same bytes each time.
    ///
    /// Only free space is used. When there is not enough and `drop_oldest`
    /// is set, room is made by dropping the oldest records: the window's
    /// first (counted [`RingStats::discarded`]), then unsent ones (counted
    /// [`RingStats::dropped_oldest`]; a record being written stays whole,
    /// the ones after it go). A refused record leaves the ring as it was and
    /// counts in [`RingStats::dropped_newest`] only when the reason was room
    /// ([`ReportError::BufferFull`]).
    pub fn push_with<F>(
        &mut self,
        drop_oldest: bool,
        max: usize,
        mut encode: F,
    ) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        // One copy of the logic for every event type (flash on devices).
        self.push_dyn(drop_oldest, max, &mut encode, true)
    }

    /// The free region(s) as they are: where the next record may go.
    #[inline]
    fn free_regions(&self) -> [(usize, usize); 2] {
        let cap = self.capacity();
        if self.records == 0 {
            [(0, cap), (0, 0)]
        } else if self.wrapped {
            [(self.b_end, self.a_floor() - self.b_end), (0, 0)]
        } else {
            [(self.a_end, cap - self.a_end), (0, self.a_floor())]
        }
    }

    /// The common case of storing an encoded record: it fits where it
    /// goes, nothing to drop (`None`: the full path).
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn push_fits(&mut self, record: &[u8]) -> Option<Pushed> {
        let n = record.len();
        for (start, len) in self.free_regions() {
            if n <= len {
                self.data_mut()[start..start + n].copy_from_slice(record);
                self.commit(start, n);
                self.pushed_ok();
                return Some(Pushed {
                    len: n,
                    dropped_oldest: 0,
                    discarded: 0,
                });
            }
        }
        None
    }

    /// True from a refusal for room until a record is stored: what
    /// [`refuse_while_full`](Self::refuse_while_full) looks at.
    #[inline]
    pub fn is_refusing(&self) -> bool {
        self.refused_size.is_some()
    }

    /// While the last record refused for room still would not fit (the
    /// sender has not made room for it since), refuses the next one
    /// without looking at it: counted as a refusal ([`RingStats::dropped_newest`],
    /// told per episode); returns the size of that last refused record,
    /// which still does not fit. A caller under drop-newest asks before
    /// encoding, so that shedding load costs a fraction of keeping it. A
    /// smaller record might have fitted in what is left: at most the
    /// refused record's size goes unused until the sender makes room.
    pub fn refuse_while_full(&mut self) -> Option<usize> {
        let size = self.refused_size?;
        let [(_, a), (_, b)] = self.free_regions();
        if size <= a.max(b) {
            return None;
        }
        self.count_refusal();
        Some(size)
    }

    fn push_dyn(
        &mut self,
        drop_oldest: bool,
        max: usize,
        encode: &mut dyn FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
        count_refusal: bool,
    ) -> Result<Pushed, ReportError> {
        // 1. The free region(s) as they are.
        let cap = self.capacity();
        let regions = self.free_regions();
        for (start, len) in regions {
            if len == 0 {
                continue;
            }
            let lim = len.min(max);
            let mut out = Out::new(&mut self.data_mut()[start..start + lim]);
            match encode(&mut out) {
                Ok(n) => {
                    self.commit(start, n);
                    self.pushed_ok();
                    return Ok(Pushed {
                        len: n,
                        dropped_oldest: 0,
                        discarded: 0,
                    });
                }
                Err(EncodeError::Full) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // 2. How big is it?
        let mut counter = Out::counter(usize::MAX);
        match encode(&mut counter) {
            Ok(_) => {}
            Err(EncodeError::Full) => {
                return Err(ReportError::TooLarge {
                    size: usize::MAX,
                    max,
                })
            }
            Err(e) => return Err(e.into()),
        }
        let lower = counter.len();
        if lower > max || lower > cap {
            return Err(ReportError::TooLarge { size: lower, max });
        }
        let need = (lower + counter.slack()).min(max).min(cap);
        // 3. Make room.
        let (mut dropped, mut discarded) = (0, 0);
        loop {
            if let Some(start) = self.reserve(need) {
                if dropped + discarded > 0 && self.journal().is_some() {
                    // The room made is free in the header before a record
                    // overwrites what was there.
                    self.jot();
                }
                let mut out = Out::new(&mut self.data_mut()[start..start + need]);
                return match encode(&mut out) {
                    Ok(n) => {
                        self.commit(start, n);
                        if dropped + discarded == 0 {
                            self.pushed_ok();
                        }
                        Ok(Pushed {
                            len: n,
                            dropped_oldest: dropped,
                            discarded,
                        })
                    }
                    Err(EncodeError::Full) => Err(ReportError::TooLarge {
                        size: need + 1,
                        max,
                    }),
                    Err(e) => Err(e.into()),
                };
            }
            if !drop_oldest {
                break;
            }
            if self.sent_records > 0 || (self.sent == 0 && self.in_flight == 0 && self.records > 0)
            {
                // The window goes first (sent, never confirmed), then
                // records written on a lost connection, then unsent ones.
                if self.pop_front() {
                    discarded += 1;
                    self.note_drop(Lost::Discarded(1));
                } else {
                    dropped += 1;
                    self.note_drop(Lost::DroppedOldest(1));
                }
            } else if self.records > 1 {
                // The oldest records are partly written or being written to
                // the connection: they must stay whole, so drop the ones
                // after them instead.
                match self.drop_after_head() {
                    (0, _) => break,
                    (k, written) => {
                        dropped += k - written;
                        discarded += written;
                        if written > 0 {
                            self.note_drop(Lost::Discarded(written as u64));
                        }
                        if k > written {
                            self.note_drop(Lost::DroppedOldest((k - written) as u64));
                        }
                    }
                }
            } else {
                break;
            }
        }
        if dropped + discarded > 0 && self.journal().is_some() {
            self.jot();
        }
        if count_refusal {
            self.count_refusal();
            if !drop_oldest {
                self.refused_size = Some(lower);
            }
        }
        Err(ReportError::BufferFull { size: lower })
    }

    /// Counts one new record refused for lack of room (and starts a full
    /// episode). For a caller that retried with [`try_push`](Self::try_push)
    /// and finally gave up.
    pub fn count_refusal(&mut self) {
        self.note_drop(Lost::Refused);
    }

    /// Like [`push_with`](Self::push_with) with drop-newest, except that a
    /// refusal for lack of room is not counted: for a caller that will make
    /// room (drive the connection) and retry.
    pub fn try_push_with<F>(&mut self, max: usize, mut encode: F) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        self.push_dyn(false, max, &mut encode, false)
    }

    /// Like [`push`](Self::push) with drop-newest, except that a refusal for
    /// lack of room is not counted: for a caller that will wait and retry.
    pub fn try_push(&mut self, record: &[u8]) -> Result<Pushed, ReportError> {
        if let Some(p) = self.push_fits(record) {
            return Ok(p);
        }
        let max = self.capacity();
        let mut encode = |out: &mut Out<'_>| {
            out.push(record)?;
            Ok(record.len())
        };
        self.push_dyn(false, max, &mut encode, false)
    }

    /// Drops the oldest record(s) after the protected head of the ring (a
    /// partly sent record, or the records being written), moving the head
    /// into their place. Returns how many were dropped (0: none could be)
    /// and how many of those had been written before (rewound).
    fn drop_after_head(&mut self) -> (usize, usize) {
        let k = self.drop_after_head_bytes();
        if k.0 == 0 {
            return (0, 0);
        }
        // The head's records are the first unsent ones; the rewound ones
        // come first among the unsent.
        let written = k.0.min(self.rewound.saturating_sub(k.1));
        self.rewound -= written;
        (k.0, written)
    }

    /// [`drop_after_head`](Self::drop_after_head)'s moves: how many records
    /// were dropped, and how many records the head holds.
    fn drop_after_head_bytes(&mut self) -> (usize, usize) {
        let (a_start, a_end, b_end, wrapped) = (self.a_start, self.a_end, self.b_end, self.wrapped);
        let (sent, in_flight) = (self.sent, self.in_flight);
        if self.journal().is_some() {
            // A durable ring never moves stored records: a kill in the
            // middle of the move would tear them.
            return (0, 0);
        }
        let buf = self.data_mut();
        // A transmit ends on a record boundary; a partial send does not.
        let head_len = if in_flight > 0 {
            sent + in_flight
        } else {
            match find_nl(&buf[a_start..a_end]) {
                Some(i) => i + 1,
                None => return (0, 0),
            }
        };
        let head_records = count_newlines(&buf[a_start..(a_start + head_len).min(a_end)]).max(1);
        if a_start + head_len > a_end {
            return (0, 0); // the protected head wraps: nothing can move
        }
        let h_end = a_start + head_len;
        if h_end < a_end {
            let Some(next_len) = find_nl(&buf[h_end..a_end]).map(|i| i + 1) else {
                return (0, 0);
            };
            crate::wire::out::move_bytes(buf, a_start..h_end, a_start + next_len);
            self.a_start += next_len;
            self.records -= 1;
            return (1, head_records);
        }
        if !wrapped {
            return (0, 0);
        }
        // The head is alone in region A: drop B's first records until they
        // make room for it, and move it there.
        let (mut span, mut k) = (0, 0);
        while span < head_len && span < b_end {
            match find_nl(&buf[span..b_end]) {
                Some(i) => span += i + 1,
                None => return (0, 0),
            }
            k += 1;
        }
        // If B ran out first, the head moves to the very start.
        let target = span.saturating_sub(head_len);
        crate::wire::out::move_bytes(buf, a_start..h_end, target);
        self.a_start = target;
        self.a_end = b_end.max(target + head_len);
        self.b_end = 0;
        self.wrapped = false;
        self.records -= k;
        (k, head_records)
    }

    /// Stores an already encoded record (compact JSON ending in one `\n`).
    pub fn push(&mut self, record: &[u8], drop_oldest: bool) -> Result<Pushed, ReportError> {
        if let Some(p) = self.push_fits(record) {
            return Ok(p);
        }
        let max = self.capacity();
        self.push_with(drop_oldest, max, |out| {
            out.push(record)?;
            Ok(record.len())
        })
    }

    /// The wall-clock time (Unix ms) recorded with losses from now on.
    pub fn set_clock(&mut self, unix_ms: u64) {
        self.clock_ms = Some(unix_ms);
    }

    /// What was lost since start, by cause, with the latest episode's span
    /// (`instance` and `seq` are 0: the driver makes markers of it).
    pub fn loss(&self) -> Loss {
        Loss {
            instance: 0,
            seq: 0,
            refused: self.stats.dropped_newest,
            dropped_oldest: self.stats.dropped_oldest,
            unconfirmed: self.stats.discarded,
            first_ms: self.span.0,
            last_ms: self.span.1,
            made_ms: self.clock_ms,
            recovered: self.recovery.filter(|_| S::PERSISTS).map_or(0, |r| r.0),
            damaged: self.recovery.filter(|_| S::PERSISTS).map_or(0, |r| r.1),
            damaged_bytes: self.recovery.filter(|_| S::PERSISTS).map_or(0, |r| r.2),
        }
    }

    fn note_drop(&mut self, what: Lost) {
        let (cause, k) = match what {
            Lost::Refused => (0, 1),
            Lost::DroppedOldest(k) => (1, k),
            Lost::Discarded(k) => (2, k),
        };
        match cause {
            0 => self.stats.dropped_newest += k,
            1 => self.stats.dropped_oldest += k,
            _ => self.stats.discarded += k,
        }
        if !self.full {
            self.full = true;
            self.note_full = true;
            self.episode = [0; 3];
            self.span.0 = self.clock_ms;
        }
        self.episode[cause] += k;
        self.span.1 = self.clock_ms;
        self.quiet = (0, self.records.max(1));
    }

    /// A record was stored without loss: the open episode ends once the
    /// ring turned over since its last loss (as many records accepted as it
    /// held then), or room is back to half the ring.
    fn pushed_ok(&mut self) {
        if self.full {
            self.quiet.0 += 1;
            if self.quiet.0 >= self.quiet.1 || self.available() >= self.capacity() / 2 {
                self.end_episode();
            }
        }
    }

    fn end_episode(&mut self) {
        self.full = false;
        self.note_freed = Some(self.episode);
    }

    /// The next buffer notification: [`Notification::BufferFull`] once
    /// when a loss episode begins, [`Notification::BufferFreed`] with its
    /// totals once it ends (see [`push_with`](Self::push_with)); never one
    /// per record.
    pub fn poll_notification(&mut self) -> Option<Notification> {
        if S::PERSISTS && self.note_recovered {
            self.note_recovered = false;
            if let Some((records, damaged, damaged_bytes)) = self.recovery {
                return Some(Notification::Recovered {
                    records,
                    damaged,
                    damaged_bytes,
                });
            }
        }
        if self.note_full {
            self.note_full = false;
            return Some(Notification::BufferFull);
        }
        self.note_freed
            .take()
            .map(
                |[refused, dropped_oldest, unconfirmed]| Notification::BufferFreed {
                    dropped: refused + dropped_oldest + unconfirmed,
                    refused,
                    dropped_oldest,
                    unconfirmed,
                },
            )
    }

    fn sent_counted(&mut self, n: usize, done: usize) -> usize {
        self.sent += n;
        self.in_flight = 0;
        self.sent_records += done;
        self.rewound -= done.min(self.rewound);
        self.stats.sent += done as u64;
        done
    }

    /// Index of the record at the sent cursor (the next one to send, or the
    /// one partly sent). Records are numbered in stream order; the index of
    /// a record sent, or being sent, never changes (records dropped behind
    /// a partly sent one were never sent). An acknowledged protocol maps its
    /// transactions to these indexes.
    pub fn sent_record(&self) -> u64 {
        self.first_record + self.sent_records as u64
    }

    /// Removes the window's first `len` bytes, `k` whole records, as
    /// delivered. Returns `k`.
    fn confirm_front(&mut self, len: usize, k: usize) -> usize {
        if k == 0 {
            return 0;
        }
        let a_len = self.a_len();
        if len >= a_len && self.wrapped {
            // Region A is gone; B (where the rest ends) becomes A.
            self.a_start = len - a_len;
            self.a_end = self.b_end;
            self.b_end = 0;
            self.wrapped = false;
        } else {
            self.a_start += len;
        }
        self.base += len as u64;
        self.first_record += k as u64;
        self.records -= k;
        self.sent -= len;
        self.sent_records -= k;
        if self.records == 0 {
            self.empty_reset();
        }
        self.stats.delivered += k as u64;
        if self.journal().is_some() {
            self.jot();
        }
        // Room is back to half the ring: the episode is over even if
        // nobody reports meanwhile.
        if self.full && self.available() >= self.capacity() / 2 {
            self.end_episode();
        }
        k
    }
}

/// The ring's cursors as the sender and its driver move them: what is
/// handed out to write, marked written, confirmed, rewound. Not part of the
/// public API (feature `internals` exposes it to the core's own tests and
/// fuzz targets): a user's ring is moved only by the SDK.
pub trait Cursor {
    /// Hands the driver the next bytes to write: at most `max` bytes ending
    /// on a record boundary (or one whole record when it alone is larger),
    /// and never across the ring's wrap (the second slice is then empty).
    /// Until [`mark_sent`](Self::mark_sent) or
    /// [`cancel_transmit`](Self::cancel_transmit), those bytes stay put.
    fn transmit(&mut self, max: usize) -> Transmit<'_>;

    /// The driver wrote `n` bytes of the last [`transmit`](Self::transmit).
    /// Returns how many records were completed.
    fn mark_sent(&mut self, n: usize) -> usize;

    /// Like [`mark_sent`](Self::mark_sent) when the driver counted the
    /// records completed by those `n` bytes itself (the newlines in its
    /// copy of them, counted outside any lock the ring is under).
    fn mark_sent_records(&mut self, n: usize, records: usize) -> usize;

    /// The driver gave up on the last transmit without writing anything more.
    fn cancel_transmit(&mut self);

    /// Confirms every sent record with an index (see
    /// [`Ring::sent_record`]) up to `index`: they leave the
    /// window, counted [`RingStats::delivered`]. Records already gone
    /// (discarded) are skipped. Returns how many.
    fn confirm_record(&mut self, index: u64) -> usize;

    /// Confirms every sent record that ends at or before the absolute
    /// stream position `pos`: they leave the window, counted
    /// [`RingStats::delivered`]. Returns how many.
    fn confirm(&mut self, pos: u64) -> usize;

    /// The connection closed cleanly after the collector read everything
    /// sent: confirms the whole window. A partly sent record is rewound
    /// (sent again whole). Returns how many records were confirmed.
    fn confirm_sent(&mut self) -> usize;

    /// The connection was lost: every record of the window will be sent
    /// again (counted [`RingStats::replayed`]), and a partly sent record
    /// whole. Returns the number of records to be replayed.
    fn rewind(&mut self) -> usize;
}

impl<S: Storage> Cursor for Ring<S> {
    fn transmit(&mut self, max: usize) -> Transmit<'_> {
        let from = self.sent;
        // Stop at the wrap: bytes being written then never span both
        // regions, so `DropOldest` can always move them as one block.
        let a_len = self.a_len();
        let end = if from < a_len { a_len } else { self.len() };
        let mut to = end.min(from + max.max(1));
        if to < end {
            // Cut back to the last record boundary, or forward to the first.
            let (a, b) = self.slices(from, to);
            let last_nl = rfind_nl(b).map(|i| a.len() + i).or_else(|| rfind_nl(a));
            to = match last_nl {
                Some(i) => from + i + 1,
                None => {
                    let (a, b) = self.slices(from, end);
                    let first_nl = find_nl(a).or_else(|| find_nl(b).map(|i| a.len() + i));
                    from + first_nl.map_or(end - from, |i| i + 1)
                }
            };
        }
        self.in_flight = to - from;
        let (first, second) = self.slices(from, to);
        Transmit { first, second }
    }

    fn mark_sent(&mut self, n: usize) -> usize {
        let n = n.min(self.in_flight);
        let (a, b) = self.slices(self.sent, self.sent + n);
        let done = count_newlines(a) + count_newlines(b);
        self.sent_counted(n, done)
    }

    fn mark_sent_records(&mut self, n: usize, records: usize) -> usize {
        let n = n.min(self.in_flight);
        debug_assert_eq!(records, {
            let (a, b) = self.slices(self.sent, self.sent + n);
            count_newlines(a) + count_newlines(b)
        });
        self.sent_counted(n, records)
    }

    fn cancel_transmit(&mut self) {
        self.in_flight = 0;
    }

    fn confirm_record(&mut self, index: u64) -> usize {
        self.prove_gone(Some(index), 0);
        if index < self.first_record {
            return 0;
        }
        let k = (index - self.first_record + 1).min(self.sent_records as u64) as usize;
        if k == 0 {
            return 0;
        }
        // The end of the k-th record of the window: a walk over those k
        // records only (an answer usually confirms one; the window may
        // hold thousands).
        let (a, b) = self.slices(0, self.sent);
        let (in_a, left) = walk_records(a, k);
        let len = if left == 0 {
            in_a
        } else {
            a.len() + walk_records(b, left).0
        };
        self.confirm_front(len, k)
    }

    fn confirm(&mut self, pos: u64) -> usize {
        self.prove_gone(None, pos);
        let lim = pos.saturating_sub(self.base).min(self.sent as u64) as usize;
        let (a, b) = self.slices(0, lim);
        // Whole records only: up to the last record end at or before `pos`.
        let len = match rfind_nl(b) {
            Some(i) => a.len() + i + 1,
            None => rfind_nl(a).map_or(0, |i| i + 1),
        };
        let (a, b) = self.slices(0, len);
        let k = count_newlines(a) + count_newlines(b);
        self.confirm_front(len, k)
    }

    fn confirm_sent(&mut self) -> usize {
        self.in_flight = 0;
        let n = self.confirm(u64::MAX);
        self.sent = 0;
        n
    }

    fn rewind(&mut self) -> usize {
        self.in_flight = 0;
        let replayed = self.sent_records;
        self.sent = 0;
        self.sent_records = 0;
        // Records written once; proof for discarded ones cannot come now.
        self.rewound += replayed;
        self.gone.clear();
        self.stats.replayed += replayed as u64;
        replayed
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn newline_counts_agree() {
        let mut b = [0u8; 300];
        let mut x = 7u32;
        for c in b.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Newlines, their neighbours and bytes with the high bit set.
            *c = [b'\n', 0x0b, 0x09, 0x8a, 0xff, 0, b'a'][(x >> 16) as usize % 7];
        }
        for from in 0..20 {
            for to in (from..300).step_by(13) {
                let s = &b[from..to];
                let want = s.iter().filter(|&&c| c == b'\n').count();
                assert_eq!(super::count_newlines_swar(s), want);
                assert_eq!(super::count_newlines(s), want);
            }
        }
    }

    use super::*;

    fn rec(i: u32, len: usize) -> [u8; 64] {
        let mut r = [b'x'; 64];
        let mut b = itoa::Buffer::new();
        let s = b.format(i).as_bytes();
        r[..s.len()].copy_from_slice(s);
        r[len - 1] = b'\n';
        r
    }

    #[test]
    fn wraps_and_keeps_order() {
        let mut ring: Ring<[u8; 256]> = Ring::new();
        let mut next_sent = 0;
        for i in 0..100u32 {
            let r = rec(i, 40);
            ring.push(&r[..40], false).unwrap();
            let t = ring.transmit(1000);
            let mut got = [0u8; 256];
            let n = t.len();
            got[..t.first.len()].copy_from_slice(t.first);
            got[t.first.len()..n].copy_from_slice(t.second);
            assert_eq!(&got[..n], &r[..40]);
            ring.mark_sent(n);
            ring.confirm(ring.sent_position());
            next_sent += 1;
        }
        assert_eq!(ring.stats().sent, next_sent);
        assert!(ring.len() <= 256);
    }

    /// Under drop-newest, a full ring refuses without looking at the next
    /// record, counted as any refusal and told once per episode, until
    /// room is made for the record refused last; a record stored ends it.
    #[test]
    fn refuses_early_while_full() {
        let mut ring: Ring<[u8; 256]> = Ring::new();
        assert_eq!(ring.refuse_while_full(), None);
        let mut stored = 0;
        while ring.push(&rec(stored, 40)[..40], false).is_ok() {
            stored += 1;
        }
        assert_eq!(ring.stats().dropped_newest, 1);
        assert_eq!(ring.poll_notification(), Some(Notification::BufferFull));
        for _ in 0..5 {
            assert_eq!(ring.refuse_while_full(), Some(40));
        }
        assert_eq!(ring.stats().dropped_newest, 6);
        // One episode: no second `BufferFull`.
        assert_eq!(ring.poll_notification(), None);
        // The sender makes room: the next record is looked at, and fits.
        let n = ring.transmit(1000).len();
        ring.mark_sent(n);
        ring.confirm(ring.sent_position());
        assert_eq!(ring.refuse_while_full(), None);
        ring.push(&rec(stored, 40)[..40], false).unwrap();
        assert_eq!(ring.stats().dropped_newest, 6);
        assert_eq!(ring.refuse_while_full(), None);
        // Blocking callers' refusals (`try_push`) never arm it.
        while ring.try_push(&rec(0, 40)[..40]).is_ok() {}
        assert_eq!(ring.refuse_while_full(), None);
    }

    #[test]
    fn static_ring() {
        static R: Ring<[u8; 64]> = Ring::new();
        assert_eq!(R.capacity(), 64);
        assert!(R.is_empty());
    }
}
