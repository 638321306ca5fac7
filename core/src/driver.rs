//! The driver loop every transport runs: it carries out the [`Sender`]'s
//! actions over a [`Link`], reads what the collector sends (its end of
//! stream, later its acknowledgements), feeds the link's acknowledged bytes
//! to the confirmation rule, and tells a clean close from a lost connection
//! in one place. Transports only adapt their sockets to [`Link`] and decide
//! how to wait (a thread in `mio::Poll`, WASI pollables, a device's main
//! loop).

use crate::error::EncodeError;
use crate::link::{Failure, Link, Received, RingAccess};
use crate::notify::{NetError, Notification};
use crate::out::Out;
use crate::ring::{Loss, Ring, Storage};
use crate::sender::{Action, Sender, SenderConfig, SenderStats};
use crate::time::Instant;

/// Most notifications kept for [`Driver::poll_notification`]; older ones go.
const MAX_NOTES: usize = 16;

/// Bytes read from the collector per call.
const READ_CHUNK: usize = 512;

/// Reads per poll at most (a collector that floods us cannot hold the loop).
const MAX_READS: usize = 16;

/// Loss markers written and not yet confirmed, at most; past that a new
/// marker waits (its loss keeps adding up).
const MAX_MARKERS: usize = 8;

/// Writes the in-band loss marker record for `loss` (one line, newline
/// included) and returns its length: after records were dropped, the
/// collector receives one before the next records, so whoever reads its
/// output sees the gap. SDKs stamp it as they stamp events (see
/// [`Encoder::encode_loss`](crate::Encoder::encode_loss)).
pub trait Marker {
    /// Encodes the marker.
    fn encode(&mut self, loss: &Loss, out: &mut Out<'_>) -> Result<usize, EncodeError>;
}

impl<F: FnMut(&Loss, &mut Out<'_>) -> Result<usize, EncodeError>> Marker for F {
    fn encode(&mut self, loss: &Loss, out: &mut Out<'_>) -> Result<usize, EncodeError> {
        self(loss, out)
    }
}

/// Markers without stamps (no `report_time` or `@uuid`): what a device
/// without a wall clock writes.
impl Marker for crate::envelope::Encoder<'_> {
    fn encode(&mut self, loss: &Loss, out: &mut Out<'_>) -> Result<usize, EncodeError> {
        self.encode_loss(loss, &crate::envelope::Stamp::default(), out)
    }
}

/// No loss markers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMarker;

impl Marker for NoMarker {
    fn encode(&mut self, _: &Loss, _: &mut Out<'_>) -> Result<usize, EncodeError> {
        Err(EncodeError::Full)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Idle,
    Connecting,
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shut {
    No,
    /// Our side is being ended (the link flushes first).
    Ending,
    /// Our side is ended: waiting for the collector's end of stream.
    Ended,
}

/// The sender state machine driven over a link. `B` is the scratch buffer
/// a batch is copied into (out of the ring, so the ring is never held
/// during I/O): a batch on hosts, a few hundred bytes on a device. `M`
/// writes loss markers ([`NoMarker`]: none).
pub struct Driver<L: Link, B: Storage, M: Marker = NoMarker> {
    sender: Sender,
    link: L,
    scratch: B,
    marker: Option<M>,
    /// Bytes of a marker in `scratch` not yet written (a short write).
    marker_rest: core::ops::Range<usize>,
    /// Markers written and not yet confirmed: the stream position they
    /// precede, and what they told.
    markers: heapless::Deque<(u64, Loss), MAX_MARKERS>,
    conn: Conn,
    shut: Shut,
    /// The last write took less than offered: wait for writability.
    blocked: bool,
    /// Bytes were written since the link last reported itself flushed.
    dirty: bool,
    notes: heapless::Deque<(Notification, Option<L::Detail>), MAX_NOTES>,
    busy_polls: u64,
}

impl<L: Link, B: Storage, M: Marker> core::fmt::Debug for Driver<L, B, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("sender", &self.sender)
            .field("conn", &self.conn)
            .field("shut", &self.shut)
            .field("blocked", &self.blocked)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<L: Link, B: Storage> Driver<L, B, NoMarker> {
    /// A driver over `link`, copying batches through `scratch`, writing no
    /// loss markers. `seed` drives backoff jitter and random server choice.
    pub fn new(config: SenderConfig, link: L, scratch: B, seed: u64) -> Self {
        Driver::with_marker(config, link, scratch, seed, None)
    }
}

impl<L: Link, B: Storage, M: Marker> Driver<L, B, M> {
    /// A driver that writes a loss marker (`Some`) before the first record
    /// sent after records were dropped. A marker must fit in `scratch`.
    pub fn with_marker(
        config: SenderConfig,
        link: L,
        scratch: B,
        seed: u64,
        marker: Option<M>,
    ) -> Self {
        Driver {
            sender: Sender::new(config, seed),
            link,
            scratch,
            marker,
            marker_rest: 0..0,
            markers: heapless::Deque::new(),
            conn: Conn::Idle,
            shut: Shut::No,
            blocked: false,
            dirty: false,
            notes: heapless::Deque::new(),
            busy_polls: 0,
        }
    }

    /// The link.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The link, mutably (to hand it readiness events).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// The sender's counters.
    pub fn stats(&self) -> SenderStats {
        self.sender.stats()
    }

    /// Polls that found work to do.
    pub fn busy_polls(&self) -> u64 {
        self.busy_polls
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.conn == Conn::Open
    }

    /// True while a connection attempt is in progress.
    pub fn is_connecting(&self) -> bool {
        self.conn == Conn::Connecting
    }

    /// True while the driver waits for the link to take more bytes (a
    /// blocked write, or a flush in progress).
    pub fn wants_writable(&self) -> bool {
        self.conn == Conn::Open && (self.blocked || self.dirty || self.shut == Shut::Ending)
    }

    /// Asks for a graceful close: send everything, end our side, wait for
    /// the collector to end its side.
    pub fn close(&mut self) {
        self.sender.close();
    }

    /// True once a requested close has ended (see
    /// [`closed_clean`](Self::closed_clean)).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// True once a requested close ended cleanly: everything sent was
    /// confirmed.
    pub fn closed_clean(&self) -> bool {
        self.sender.closed_clean()
    }

    /// True when connected, writable and with nothing left to send: a new
    /// record is worth waking the driver for.
    pub fn awaits_records<S: Storage>(&self, ring: &Ring<S>) -> bool {
        self.conn == Conn::Open && !self.blocked && self.sender.awaits_records(ring)
    }

    /// True when everything in `ring` was written and the link holds
    /// nothing back.
    pub fn is_flushed<S: Storage>(&self, ring: &Ring<S>) -> bool {
        ring.unsent_records() == 0 && ring.in_flight() == 0 && !self.dirty
    }

    /// The next notification with the transport's detail, oldest first
    /// (buffer notifications come from the ring).
    pub fn poll_notification(&mut self) -> Option<(Notification, Option<L::Detail>)> {
        self.notes.pop_front()
    }

    /// Moves the sender's notifications out; `detail` goes with each
    /// failure it explains.
    fn take_notes(&mut self, detail: Option<L::Detail>) {
        while let Some(n) = self.sender.poll_notification() {
            let d = match n {
                Notification::ConnectFailed { .. }
                | Notification::Disconnected { .. }
                | Notification::SendFailed { .. }
                | Notification::TlsFailed { .. } => detail.clone(),
                _ => None,
            };
            if self.notes.is_full() {
                self.notes.pop_front();
            }
            let _ = self.notes.push_back((n, d));
        }
    }

    /// Markers whose following record was confirmed were read too.
    fn markers_confirmed<R: RingAccess>(&mut self, ring: &mut R) {
        if self.markers.is_empty() {
            return;
        }
        if let Some(c) = ring.with(|r| r.confirmed_position()) {
            while self.markers.front().is_some_and(|(pos, _)| *pos < c) {
                self.markers.pop_front();
            }
        }
    }

    /// The connection is gone: markers not known to be read go out again.
    fn markers_lost<R: RingAccess>(&mut self, ring: &mut R) {
        self.marker_rest = 0..0;
        while let Some((pos, loss)) = self.markers.pop_front() {
            ring.with(|r| r.restore_loss(&Loss { at: pos, ..loss }));
        }
    }

    /// Writes what is left of a marker cut by a short write. `Ok(true)`:
    /// nothing is left.
    fn write_marker_rest(&mut self, now: Instant) -> Result<bool, Failure<L::Detail>> {
        if self.marker_rest.is_empty() {
            return Ok(true);
        }
        let rest = self.marker_rest.clone();
        let w = self
            .link
            .write(&self.scratch.bytes()[rest.clone()])?
            .min(rest.len());
        self.marker_rest.start += w;
        let done = self.marker_rest.is_empty();
        self.sender.on_extra_sent(w, done);
        if !done {
            self.blocked = true;
            self.sender.on_blocked_extra(now);
        }
        Ok(done)
    }

    /// [`write_marker_rest`](Self::write_marker_rest) for the action loop:
    /// true when nothing of a marker is left to write; false when the link
    /// took only part (wait for it) or failed (the connection is lost).
    fn marker_written<R: RingAccess>(&mut self, now: Instant, ring: &mut R) -> bool {
        match self.write_marker_rest(now) {
            Ok(done) => done,
            Err(f) => {
                self.lost(now, Some(f), ring);
                false
            }
        }
    }

    fn drop_link(&mut self) {
        self.link.close();
        self.conn = Conn::Idle;
        self.shut = Shut::No;
        self.blocked = false;
        self.dirty = false;
    }

    /// The connection ended: `None` is a clean end (ours, then the
    /// collector's), anything else a loss.
    fn lost<R: RingAccess>(&mut self, now: Instant, f: Option<Failure<L::Detail>>, ring: &mut R) {
        self.drop_link();
        if f.is_some() {
            self.markers_lost(ring);
        } else {
            // A clean end: the collector read every marker.
            self.markers.clear();
            self.marker_rest = 0..0;
        }
        let (kind, detail) = match f {
            Some(f) => (Some(f.kind), Some(f.detail)),
            None => (None, None),
        };
        let sender = &mut self.sender;
        ring.with(|r| sender.on_closed(now, kind, r));
        self.take_notes(detail);
    }

    /// An open connection's own progress: what the collector sent (its end
    /// of stream), acknowledgements, writability, our side's end.
    fn service<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> Result<(), Option<Failure<L::Detail>>> {
        let mut buf = [0u8; READ_CHUNK];
        for _ in 0..MAX_READS {
            match self.link.read(&mut buf).map_err(Some)? {
                Received::Nothing => break,
                // Collectors of newline-delimited JSON send nothing we use.
                Received::Data(_) => {}
                Received::End if self.shut == Shut::Ended => return Err(None),
                Received::End => {
                    return Err(Some(Failure::new(
                        NetError::PeerClosed,
                        "the collector closed the connection".into(),
                    )))
                }
            }
        }
        if let Some(acked) = self.link.acked() {
            let sender = &mut self.sender;
            ring.with(|r| sender.on_acked(now, acked, r));
        }
        if self.blocked && self.link.writable().map_err(Some)? {
            self.blocked = false;
            self.sender.on_writable();
        }
        if self.shut == Shut::Ending
            && self.write_marker_rest(now).map_err(Some)?
            && self.link.shutdown().map_err(Some)?
        {
            self.shut = Shut::Ended;
            self.dirty = false;
        }
        Ok(())
    }

    /// Puts a loss marker at the start of `scratch` when records were lost
    /// before the next byte to send; returns its length (0: none).
    fn encode_marker<R: RingAccess>(&mut self, ring: &mut R) -> usize {
        let Some(marker) = self.marker.as_mut() else {
            return 0;
        };
        if self.markers.is_full() {
            return 0;
        }
        let taken = ring.with(|r| {
            if r.at_record_boundary() {
                r.take_loss(r.sent_position())
                    .map(|l| (l, r.sent_position()))
            } else {
                None
            }
        });
        let Some(Some((loss, pos))) = taken else {
            return 0;
        };
        let buf = self.scratch.bytes_mut();
        // Leave room for at least some of the records it precedes.
        let room = buf.len() - buf.len() / 4;
        match marker.encode(&loss, &mut Out::new(&mut buf[..room])) {
            Ok(n) => {
                let _ = self.markers.push_back((pos, loss));
                n
            }
            Err(_) => {
                // It does not fit (a device's small scratch, a huge
                // token): no markers on this driver; the loss stays
                // counted in the ring.
                ring.with(|r| r.restore_loss(&loss));
                self.marker = None;
                0
            }
        }
    }

    /// Does all the work possible at `now` without blocking (a device's
    /// blocking stream aside): connects, writes what is buffered, reads what
    /// the collector sent, confirms, reconnects after failures. Returns when
    /// to call again at the latest (`None`: when the link becomes ready or
    /// something new is reported).
    pub fn poll<R: RingAccess>(&mut self, now: Instant, mut ring: R) -> Option<Instant> {
        let mut busy = false;
        let next = loop {
            match self.conn {
                Conn::Idle => {}
                Conn::Connecting => match self.link.poll_connect() {
                    Ok(true) => {
                        busy = true;
                        self.conn = Conn::Open;
                        self.sender.on_connected(now);
                        self.take_notes(None);
                    }
                    Ok(false) => {}
                    Err(f) => {
                        busy = true;
                        self.drop_link();
                        let server = self.sender.server();
                        self.sender.on_connect_failed(now, f.kind);
                        if let (NetError::Tls, Some(server)) = (f.kind, server) {
                            self.sender.note_tls_failed(server);
                        }
                        self.take_notes(Some(f.detail));
                    }
                },
                Conn::Open => {
                    if let Err(f) = self.service(now, &mut ring) {
                        busy = true;
                        self.lost(now, f, &mut ring);
                    }
                }
            }
            let (sender, open) = (&mut self.sender, self.conn == Conn::Open && !self.blocked);
            let Some(action) = ring.with_idle(|r| {
                let a = sender.poll(now, r);
                let idle = open && matches!(a, Action::Wait { .. }) && sender.awaits_records(r);
                (a, idle)
            }) else {
                break Some(now);
            };
            match action {
                Action::Wait { until } => {
                    if self.conn == Conn::Open
                        && self.dirty
                        && !self.blocked
                        && self.shut == Shut::No
                    {
                        match self.link.flush() {
                            Ok(true) => self.dirty = false,
                            Ok(false) => {}
                            Err(f) => {
                                busy = true;
                                self.lost(now, Some(f), &mut ring);
                                continue;
                            }
                        }
                    }
                    break until;
                }
                Action::Connect { server } => {
                    busy = true;
                    self.drop_link();
                    match self.link.connect(server) {
                        Ok(()) => {
                            self.conn = Conn::Connecting;
                            self.take_notes(None);
                        }
                        Err(f) => {
                            self.sender.on_connect_failed(now, f.kind);
                            self.take_notes(Some(f.detail));
                        }
                    }
                }
                Action::Abort { .. } => {
                    busy = true;
                    self.drop_link();
                    self.take_notes(None);
                }
                Action::Transmit { max } => {
                    busy = true;
                    if !self.marker_written(now, &mut ring) {
                        continue;
                    }
                    self.markers_confirmed(&mut ring);
                    let off = self.encode_marker(&mut ring);
                    let buf = self.scratch.bytes_mut();
                    let cap = buf.len() - off;
                    let n = ring
                        .with(|r| {
                            let t = r.transmit(max.min(cap));
                            // Copy what fits; the rest stays unsent.
                            let buf = &mut buf[off..];
                            let a = t.first.len().min(cap);
                            buf[..a].copy_from_slice(&t.first[..a]);
                            let b = t.second.len().min(cap - a);
                            buf[a..a + b].copy_from_slice(&t.second[..b]);
                            a + b
                        })
                        .unwrap_or(0);
                    match self.link.write(&self.scratch.bytes()[..off + n]) {
                        Ok(w) => {
                            let w = w.min(off + n);
                            if w > 0 {
                                self.dirty = true;
                            }
                            if off > 0 {
                                self.sender.on_extra_sent(w.min(off), w >= off);
                                if w < off {
                                    self.marker_rest = w..off;
                                }
                            }
                            let w = w.saturating_sub(off);
                            let sender = &mut self.sender;
                            if w < n {
                                self.blocked = true;
                                ring.with(|r| sender.on_blocked(now, w, r));
                            } else {
                                ring.with(|r| sender.on_sent(now, w, r));
                            }
                        }
                        Err(f) => self.lost(now, Some(f), &mut ring),
                    }
                }
                Action::Shutdown => {
                    busy = true;
                    self.shut = Shut::Ending;
                    // A loss no record followed is told before the end.
                    if self.marker_rest.is_empty() {
                        self.marker_rest = 0..self.encode_marker(&mut ring);
                    }
                    if !self.marker_written(now, &mut ring) {
                        continue;
                    }
                    match self.link.shutdown() {
                        Ok(true) => {
                            self.shut = Shut::Ended;
                            self.dirty = false;
                        }
                        Ok(false) => {}
                        Err(f) => self.lost(now, Some(f), &mut ring),
                    }
                }
            }
        };
        if busy {
            self.busy_polls += 1;
        }
        next
    }
}
