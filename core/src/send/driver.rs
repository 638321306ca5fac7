//! The driver loop every transport runs: it carries out the [`Sender`]'s
//! actions over a [`Link`], reads what the collector sends (its end of
//! stream; with RELP its replies, see [`crate::protocol::relp`]), frames records for
//! RELP, feeds the link's acknowledged bytes
//! to the confirmation rule, and tells a clean close from a lost connection
//! in one place. Transports only adapt their sockets to [`Link`] and decide
//! how to wait (a thread in `mio::Poll`, WASI pollables, a device's main
//! loop).

use crate::api::error::EncodeError;
use crate::api::notify::{NetError, Notification};
use crate::buffer::confirm::Confirm;
use crate::buffer::loss::{mix, Loss, Proof, Told};
use crate::buffer::ring::{count_newlines, Cursor, Ring, Storage};
use crate::protocol::{Answers, Close, ConfirmedBy, Frame, Protocol, Wire};
use crate::send::link::{Failure, Link, Received, RingAccess};
use crate::send::sender::{Action, Sender, SenderConfig, SenderStats};
use crate::send::time::Instant;
use crate::wire::out::Out;

/// Most notifications kept for [`Driver::poll_notification`]; older ones go
/// (devices keep 4: each is 80 bytes of RAM there).
#[cfg(feature = "notify")]
const MAX_NOTES: usize = if cfg!(target_os = "none") { 4 } else { 16 };

/// Bytes read from the collector per call (RELP replies are ~15 bytes
/// each; hosts read more of them per call).
const READ_CHUNK: usize = if cfg!(target_pointer_width = "64") {
    4096
} else {
    512
};

/// Reads per poll at most (a collector that floods us cannot hold the loop).
const MAX_READS: usize = 16;

/// Writes the in-band loss marker record for `loss` (one line, newline
/// included) and returns its length: after records were lost, the
/// collector receives one before the next records, with the totals since
/// start (see [`crate::Loss`]). It must write the same bytes for the same
/// `loss` (stamp it with [`Loss::stamp`], see
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
impl Marker for crate::wire::envelope::Encoder<'_> {
    fn encode(&mut self, loss: &Loss, out: &mut Out<'_>) -> Result<usize, EncodeError> {
        self.encode_loss(loss, &loss.stamp(false, false), out)
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

/// Longest frame header any protocol writes before a loss marker.
const MAX_HEADER: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Idle,
    Connecting,
    /// Connected, the protocol's session opening (RELP's `open` exchange).
    Handshake,
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

/// The sender state machine driven over a link, speaking a [`Protocol`].
/// `B` is the scratch buffer a batch is copied (framed) into, out of the
/// ring, so the ring is never held during I/O: a batch on hosts, a few
/// hundred bytes on a device. `M` writes loss markers ([`NoMarker`]: none).
pub struct Driver<L: Link, B: Storage, M: Marker = NoMarker> {
    sender: Sender,
    wire: Wire,
    link: L,
    scratch: B,
    marker: Option<M>,
    /// `rest` holds (the end of) a loss marker not yet counted as sent.
    marker_pending: bool,
    /// Which loss markers were made, written, proved.
    told: Told,
    /// Bytes written on this connection (markers and framing included).
    conn_written: u64,
    /// Bytes in `scratch` not yet written (a marker cut by a short write;
    /// frames, when the protocol's answers confirm records).
    rest: core::ops::Range<usize>,
    /// The protocol may not take a frame now (its answer window is full).
    waiting: bool,
    /// A requested close told its last loss and began ending the session:
    /// no marker may follow.
    close_started: bool,
    /// The last poll read as much as it may: read again soon.
    more_to_read: bool,
    conn: Conn,
    shut: Shut,
    /// The last write took less than offered: wait for writability.
    blocked: bool,
    /// Bytes were written since the link last reported itself flushed.
    dirty: bool,
    #[cfg(feature = "notify")]
    notes: heapless::Deque<(Notification, Option<L::Detail>), MAX_NOTES>,
    busy_polls: u64,
}

impl<L: Link, B: Storage, M: Marker> core::fmt::Debug for Driver<L, B, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("sender", &self.sender)
            .field("wire", &self.wire)
            .field("conn", &self.conn)
            .field("shut", &self.shut)
            .field("blocked", &self.blocked)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<L: Link, B: Storage> Driver<L, B, NoMarker> {
    /// A driver over `link` speaking `wire` (see
    /// [`Config::wire`](crate::Config::wire)), copying batches through
    /// `scratch`, writing no loss markers. `seed` drives backoff jitter and
    /// random server choice.
    pub fn new(config: SenderConfig, wire: Wire, link: L, scratch: B, seed: u64) -> Self {
        Driver::with_marker(config, wire, link, scratch, seed, None)
    }
}

impl<L: Link, B: Storage, M: Marker> Driver<L, B, M> {
    /// A driver that writes a loss marker (`Some`) before the first record
    /// sent after records were dropped. A marker must fit in `scratch`.
    pub fn with_marker(
        config: SenderConfig,
        wire: Wire,
        link: L,
        scratch: B,
        seed: u64,
        marker: Option<M>,
    ) -> Self {
        Driver {
            sender: Sender::new(config, seed),
            wire,
            link,
            scratch,
            marker,
            marker_pending: false,
            told: Told::new(mix(seed ^ 0x6c6f_7373_6d61_726b)),
            conn_written: 0,
            rest: 0..0,
            waiting: false,
            close_started: false,
            more_to_read: false,
            conn: Conn::Idle,
            shut: Shut::No,
            blocked: false,
            dirty: false,
            #[cfg(feature = "notify")]
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

    /// The protocol.
    pub fn wire(&self) -> &Wire {
        &self.wire
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
        match self.conn {
            Conn::Open => self.blocked || self.dirty || self.shut == Shut::Ending,
            Conn::Handshake => self.blocked,
            _ => false,
        }
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
        self.conn == Conn::Open
            && !self.blocked
            && !self.waiting
            && self.sender.awaits_records(ring)
    }

    /// True when everything in `ring` was written and the link holds
    /// nothing back; when the protocol's answers confirm records, when the
    /// collector also answered everything (its answers come without more
    /// traffic).
    pub fn is_flushed<S: Storage>(&self, ring: &Ring<S>) -> bool {
        ring.unsent_records() == 0
            && ring.in_flight() == 0
            && !self.dirty
            && self.rest.is_empty()
            && (self.wire.confirmed_by() == ConfirmedBy::Bytes || ring.window_records() == 0)
    }

    /// The next notification with the transport's detail, oldest first
    /// (buffer notifications come from the ring). Always `None` without
    /// feature `notify`.
    pub fn poll_notification(&mut self) -> Option<(Notification, Option<L::Detail>)> {
        #[cfg(feature = "notify")]
        return self.notes.pop_front();
        #[cfg(not(feature = "notify"))]
        None
    }

    /// Keeps `n` (the oldest goes when full); without feature `notify`,
    /// nothing is kept.
    fn note(&mut self, n: Notification, detail: Option<L::Detail>) {
        #[cfg(feature = "notify")]
        {
            if self.notes.is_full() {
                self.notes.pop_front();
            }
            let _ = self.notes.push_back((n, detail));
        }
        #[cfg(not(feature = "notify"))]
        let _ = (n, detail);
    }

    /// Moves the sender's notifications out; `detail` goes with each
    /// failure it explains (without feature `notify` there are none).
    fn take_notes(&mut self, detail: Option<L::Detail>) {
        while let Some(n) = self.sender.poll_notification() {
            let d = match n {
                Notification::ConnectFailed { .. }
                | Notification::Disconnected { .. }
                | Notification::SendFailed { .. }
                | Notification::TlsFailed { .. }
                | Notification::RelpFailed { .. } => detail.clone(),
                _ => None,
            };
            self.note(n, d);
        }
    }

    /// The confirmation rule applied to the loss marker written on this
    /// connection, as to any record (`acked`: what the collector's kernel
    /// acknowledged of it, where the link tells).
    fn prove_marker(&mut self, acked: Option<u64>) {
        let proved = match self.sender.config().confirm {
            Confirm::Written { replay_limit } => self.conn_written.checked_sub(replay_limit as u64),
            Confirm::Acked { peer_buffer } => acked.and_then(|a| a.checked_sub(peer_buffer as u64)),
            Confirm::Collector => None,
        };
        if let Some(bytes) = proved {
            self.told.proved_bytes(bytes);
        }
    }

    /// The SDK instance id its loss markers carry (random per start: from
    /// the seed).
    pub fn loss_instance(&self) -> u64 {
        self.told.instance()
    }

    /// Loss markers made so far (the newest one's `seq`).
    pub fn loss_markers_made(&self) -> u64 {
        self.told.made()
    }

    /// True when the collector has proof of the ring's current loss totals
    /// (the newest marker was confirmed and nothing was lost since), or
    /// nothing was ever lost.
    pub fn loss_told(&self, ring: &crate::buffer::ring::RingStats) -> bool {
        self.told.all_told(&Loss {
            refused: ring.dropped_newest,
            dropped_oldest: ring.dropped_oldest,
            unconfirmed: ring.discarded,
            ..Loss::default()
        })
    }

    /// Writes what is left in `scratch` (a marker cut by a short write;
    /// frames). `Ok(true)`: nothing is left.
    fn write_rest(&mut self, now: Instant) -> Result<bool, Failure<L::Detail>> {
        if self.rest.is_empty() {
            return Ok(true);
        }
        let rest = self.rest.clone();
        let w = self
            .link
            .write(&self.scratch.bytes()[rest.clone()])?
            .min(rest.len());
        if w > 0 {
            self.dirty = true;
        }
        self.conn_written += w as u64;
        self.rest.start += w;
        let done = self.rest.is_empty();
        // A marker framed for answers was counted when framed.
        self.sender.on_extra_sent(w, done && self.marker_pending);
        if done {
            self.marker_pending = false;
        } else {
            self.blocked = true;
            self.sender.on_blocked_extra(now);
        }
        Ok(done)
    }

    /// [`write_rest`](Self::write_rest) for the action loop: true when
    /// nothing is left to write; false when the link took only part (wait
    /// for it) or failed (the connection is lost).
    fn rest_written<R: RingAccess>(&mut self, now: Instant, ring: &mut R) -> bool {
        match self.write_rest(now) {
            Ok(done) => done,
            Err(f) => {
                self.lost(now, Some(f), ring);
                false
            }
        }
    }

    /// A protocol failure: the user is told what the collector did; the
    /// connection is then dropped as failed.
    fn protocol_failed(&mut self, e: <Wire as Protocol>::Error) -> Failure<L::Detail> {
        let f = self.wire.failure(e, self.sender.server());
        if let Some(n) = f.note {
            self.note(n, None);
        }
        Failure::new(f.kind, f.detail.into())
    }

    fn drop_link(&mut self) {
        self.link.close();
        self.conn = Conn::Idle;
        self.shut = Shut::No;
        self.blocked = false;
        self.dirty = false;
        self.waiting = false;
        self.close_started = false;
        self.more_to_read = false;
        self.rest = 0..0;
        self.marker_pending = false;
        self.conn_written = 0;
        // What this connection carried without proof is due again.
        self.told.lost();
        self.wire.lost();
    }

    /// The connection ended: `None` is a clean end (ours, then the
    /// collector's), anything else a loss.
    fn lost<R: RingAccess>(&mut self, now: Instant, f: Option<Failure<L::Detail>>, ring: &mut R) {
        if f.is_none() {
            // A clean end: the collector read everything, markers too.
            self.told.closed_clean();
        }
        self.drop_link();
        let (kind, detail) = match f {
            Some(f) => (Some(f.kind), Some(f.detail)),
            None => (None, None),
        };
        let sender = &mut self.sender;
        ring.with(|r| sender.on_closed(now, kind, r));
        self.take_notes(detail);
    }

    /// Reads what the collector sent and hands it to the protocol, which
    /// says what it confirmed. `Ok(true)`: the collector ended its side
    /// cleanly after we ended ours (or answered the protocol's close).
    fn read_collector<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> Result<bool, Failure<L::Detail>> {
        let mut buf = [0u8; READ_CHUNK];
        self.more_to_read = true;
        for _ in 0..MAX_READS {
            match self.link.read(&mut buf)? {
                Received::Nothing => {
                    self.more_to_read = false;
                    break;
                }
                Received::Data(n) => {
                    let mut answers = Answers::default();
                    let r = self
                        .wire
                        .handle_input(now, &buf[..n.min(READ_CHUNK)], &mut answers);
                    // What was answered before an error is confirmed.
                    if let Some(index) = answers.record {
                        if ring.with(|r| r.confirm_record(index)).unwrap_or(0) > 0 {
                            self.sender.on_progress();
                        }
                    }
                    if let Some(frames) = answers.frames {
                        self.told.proved_answer(frames);
                    }
                    if let Err(e) = r {
                        return Err(self.protocol_failed(e));
                    }
                }
                Received::End => {
                    self.more_to_read = false;
                    if self.shut == Shut::Ended || self.wire.closed() {
                        return Ok(true);
                    }
                    return Err(Failure::new(
                        NetError::PeerClosed,
                        "the collector closed the connection".into(),
                    ));
                }
            }
        }
        Ok(false)
    }

    /// The protocol's session opening on a new connection: `Ok(true)` once
    /// the collector accepted the session.
    fn handshake<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> Result<bool, Failure<L::Detail>> {
        if self.blocked && self.link.writable()? {
            self.blocked = false;
        }
        if !self.blocked && !self.write_rest(now)? {
            return Ok(false);
        }
        if self.read_collector(now, ring)? {
            return Err(Failure::new(
                NetError::PeerClosed,
                "the collector closed the connection".into(),
            ));
        }
        if self.wire.is_open() {
            return Ok(true);
        }
        if let Err(e) = self.wire.handle_timeout(now) {
            return Err(self.protocol_failed(e));
        }
        Ok(false)
    }

    /// An open connection's own progress: what the collector sent (its end
    /// of stream, answers), the protocol's deadlines, acknowledgements,
    /// writability, our side's end.
    fn service<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> Result<(), Option<Failure<L::Detail>>> {
        if self.read_collector(now, ring).map_err(Some)? {
            return Err(None);
        }
        if let Err(e) = self.wire.handle_timeout(now) {
            return Err(Some(self.protocol_failed(e)));
        }
        if self.waiting && self.wire.has_room() {
            self.waiting = false;
            if !self.blocked {
                self.sender.on_writable();
            }
        }
        if let Some(acked) = self.link.acked() {
            let sender = &mut self.sender;
            ring.with(|r| sender.on_acked(now, acked, r));
            self.prove_marker(Some(acked));
        }
        if self.blocked && self.link.writable().map_err(Some)? {
            self.blocked = false;
            if !self.waiting {
                self.sender.on_writable();
            }
        }
        if self.shut == Shut::Ending {
            if self.end_step(now, ring).map_err(Some)? {
                return Err(None);
            }
        } else {
            self.renew_session(now).map_err(Some)?;
        }
        Ok(())
    }

    /// A protocol may end a session by itself (RELP: one that used its
    /// transaction numbers); once its close is answered, a new connection
    /// opens a new one. Frames left in `rest` are written on (records
    /// that go unframed are written by the next transmit instead).
    fn renew_session(&mut self, now: Instant) -> Result<(), Failure<L::Detail>> {
        if self.wire.confirmed_by() == ConfirmedBy::Bytes {
            return Ok(());
        }
        if self.rest.is_empty() {
            match self.wire.poll_close(now, false, self.scratch.bytes_mut()) {
                Close::Write(n) => self.rest = 0..n,
                Close::Done => {
                    self.drop_link();
                    self.sender.on_session_end(now);
                    return Ok(());
                }
                Close::Waiting | Close::Nothing => {}
            }
        }
        if !self.blocked {
            self.write_rest(now)?;
        }
        Ok(())
    }

    /// Moves a requested close forward: what is left is written (frames, a
    /// marker), every frame is answered, a loss no record followed is told
    /// (after the answers, which may still prove discarded records: the
    /// marker then has the final totals), the protocol's close is
    /// answered, our side is ended. `Ok(true)`: the close is complete (the
    /// collector answered the protocol's close, so it confirmed every frame
    /// before it; the connection is dropped without waiting for its end of
    /// stream, as librelp's own client does: rsyslog does not always close
    /// its side after a client's end of stream).
    fn end_step<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> Result<bool, Failure<L::Detail>> {
        if self.blocked || !self.write_rest(now)? {
            return Ok(false);
        }
        if !self.close_started {
            if self.wire.awaits_answers() {
                return Ok(false);
            }
            // From here the session ends: the marker (if any) is the last
            // frame, and the protocol's close goes right after it.
            self.close_started = true;
            let marker = self.frame_marker(now, ring);
            if !marker.is_empty() {
                self.rest = marker;
                if !self.write_rest(now)? {
                    return Ok(false);
                }
            }
        }
        match self.wire.poll_close(now, true, self.scratch.bytes_mut()) {
            Close::Write(n) => {
                self.rest = 0..n;
                self.write_rest(now)?;
                return Ok(false);
            }
            Close::Waiting => return Ok(false),
            Close::Done | Close::Nothing => {}
        }
        if self.link.shutdown()? {
            self.shut = Shut::Ended;
            self.dirty = false;
            return Ok(self.wire.closed());
        }
        Ok(false)
    }

    /// Encodes the loss marker due now, if any, into `scratch` from `at`:
    /// only right at a record boundary (a marker never tears a record).
    /// Returns its `seq` and length. One that does not fit (a device's
    /// small scratch, a huge token) ends markers on this driver; the loss
    /// stays counted in the ring.
    fn encode_due_marker<R: RingAccess>(
        &mut self,
        ring: &mut R,
        at: usize,
    ) -> Option<(u64, usize)> {
        let marker = self.marker.as_mut()?;
        // Asked under the ring's access, and encoded where it is kept: the
        // ring's totals are not copied out.
        let told = &mut self.told;
        ring.with(|r| r.at_record_boundary() && told.due(&r.loss()).is_some())
            .unwrap_or(false)
            .then_some(())?;
        let loss = self.told.newest();
        let buf = self.scratch.bytes_mut();
        // It may fill the buffer: the records it precedes go next.
        let n = match buf.get_mut(at..) {
            Some(b) if !b.is_empty() => marker.encode(loss, &mut Out::new(b)),
            _ => Err(EncodeError::Full),
        };
        match n {
            Ok(n) => (n > 0).then_some((loss.seq, n)),
            Err(_) => {
                self.marker = None;
                None
            }
        }
    }

    /// Frames a loss marker (when one is due) at the start of `scratch`
    /// and returns its range (empty: none). The protocol frames it like a
    /// record; it is proved by the answer to its frame, or by the
    /// confirmation rule over its bytes.
    fn frame_marker<R: RingAccess>(
        &mut self,
        now: Instant,
        ring: &mut R,
    ) -> core::ops::Range<usize> {
        let room = self.wire.header_max().min(MAX_HEADER);
        let Some((seq, n)) = self.encode_due_marker(ring, room) else {
            return 0..0;
        };
        let mut h = [0u8; MAX_HEADER];
        // No room for the frame now: the marker stays due.
        let Some(header) = self.wire.frame(now, Frame::Marker, n, &mut h[..room]) else {
            return 0..0;
        };
        let start = room - header.len;
        self.scratch.bytes_mut()[start..room].copy_from_slice(&h[..header.len]);
        let proof = match header.answer {
            Some(id) => {
                // Counted as sent with its frame, as the records.
                self.sender.on_extra_sent(0, true);
                Proof::Answer(id)
            }
            None => {
                self.marker_pending = true;
                Proof::Bytes(self.conn_written + (room + n - start) as u64)
            }
        };
        self.told.wrote(seq, proof);
        start..room + n
    }

    /// Frames the next records (a loss marker first when one is due) into
    /// `scratch` and writes them.
    fn transmit<R: RingAccess>(&mut self, now: Instant, max: usize, ring: &mut R) {
        if !self.rest_written(now, ring) {
            return;
        }
        // The rest of a record split before needs no new frame.
        if !self.wire.has_room() && ring.with(|r| r.at_record_boundary()).unwrap_or(true) {
            self.waiting = true;
            self.sender.on_blocked_extra(now);
            return;
        }
        let marker = self.frame_marker(now, ring);
        let (start, at) = (marker.start, marker.end);
        let by = self.wire.confirmed_by();
        let (wire, sender, buf) = (&mut self.wire, &mut self.sender, self.scratch.bytes_mut());
        let framed = ring
            .with(|r| {
                let whole = r.at_record_boundary();
                let first = r.sent_record();
                let t = r.transmit(max.min(buf.len() - at));
                // `transmit` never spans the ring's wrap: one slice.
                let src = if t.first.is_empty() {
                    t.second
                } else {
                    t.first
                };
                let (before, out) = buf.split_at_mut(at);
                let f = wire.poll_transmit(now, src, first, whole, before.len(), out);
                if by == ConfirmedBy::Answers {
                    // Framed records count as sent: their answers confirm them.
                    sender.on_framed(f.taken, r);
                }
                f
            })
            .unwrap_or_default();
        let end = at + framed.written;
        if by == ConfirmedBy::Answers {
            self.rest = start..end;
            if self.rest.is_empty() {
                // Nothing could be framed now: wait for answers rather
                // than ask again at once.
                self.waiting = true;
                self.sender.on_blocked_extra(now);
            } else if let Err(f) = self.write_rest(now) {
                self.lost(now, Some(f), ring);
            }
            return;
        }
        // Records go as they are: the ring's bytes, marked sent as written.
        match self.link.write(&self.scratch.bytes()[start..end]) {
            Ok(w) => {
                let w = w.min(end - start);
                if w > 0 {
                    self.dirty = true;
                }
                self.conn_written += w as u64;
                let marker = at - start;
                if marker > 0 {
                    self.sender.on_extra_sent(w.min(marker), w >= marker);
                    if w < marker {
                        self.rest = start + w..at;
                    } else {
                        self.marker_pending = false;
                    }
                }
                let w = w.saturating_sub(marker);
                // Counted here, in our copy: not under the ring's lock.
                let k = count_newlines(&self.scratch.bytes()[at..at + w]);
                let sender = &mut self.sender;
                if w < framed.written {
                    self.blocked = true;
                    ring.with(|r| sender.on_blocked_records(now, w, k, r));
                } else {
                    ring.with(|r| sender.on_sent_records(now, w, k, r));
                }
                self.prove_marker(None);
            }
            Err(f) => self.lost(now, Some(f), ring),
        }
    }

    /// Does all the work possible at `now` without blocking (a device's
    /// blocking stream aside): connects, writes what is buffered, reads what
    /// the collector sent, confirms, reconnects after failures. Returns when
    /// to call again at the latest (`None`: when the link becomes ready or
    /// something new is reported).
    pub fn poll<R: RingAccess>(&mut self, now: Instant, ring: R) -> Option<Instant> {
        self.poll_clock(|| now, ring)
    }

    /// [`poll`](Self::poll) reading the time from `clock` at each step: a
    /// poll that writes for a while then schedules what follows (a
    /// reconnection delay, a linger) from when it happens, not from when
    /// the poll began. The time it returns is by the last reading.
    pub fn poll_clock<R: RingAccess, C: FnMut() -> Instant>(
        &mut self,
        mut clock: C,
        mut ring: R,
    ) -> Option<Instant> {
        let mut busy = false;
        let mut now;
        let next = loop {
            now = clock();
            match self.conn {
                Conn::Idle => {}
                Conn::Connecting => match self.link.poll_connect() {
                    Ok(true) => {
                        busy = true;
                        match self.wire.connected(now, self.scratch.bytes_mut()) {
                            Ok(0) if self.wire.is_open() => self.opened(now),
                            Ok(n) => {
                                self.rest = 0..n;
                                self.conn = Conn::Handshake;
                                continue;
                            }
                            Err(e) => {
                                let f = self.protocol_failed(e);
                                self.connect_failed(now, f);
                            }
                        }
                    }
                    Ok(false) => {}
                    Err(f) => {
                        busy = true;
                        self.connect_failed(now, f);
                    }
                },
                Conn::Handshake => match self.handshake(now, &mut ring) {
                    Ok(true) => {
                        busy = true;
                        self.opened(now);
                    }
                    Ok(false) => {}
                    Err(f) => {
                        busy = true;
                        self.connect_failed(now, f);
                    }
                },
                Conn::Open => {
                    if let Err(f) = self.service(now, &mut ring) {
                        busy = true;
                        self.lost(now, f, &mut ring);
                    }
                }
            }
            let (sender, open, told) = (
                &mut self.sender,
                self.conn == Conn::Open && !self.blocked && !self.waiting,
                self.marker.is_some().then_some(&self.told),
            );
            let Some(action) = ring.with_wake(|r| {
                sender.set_untold(told.is_some_and(|t| !t.all_told(&r.loss())));
                let a = sender.poll(now, r);
                let wake = match a {
                    Action::Wait { .. } if open => sender.wake_at(r),
                    _ => None,
                };
                (a, wake)
            }) else {
                break Some(now);
            };
            match action {
                Action::Wait { until } => {
                    if self.conn == Conn::Open
                        && self.dirty
                        && !self.blocked
                        && self.shut == Shut::No
                        && self.rest.is_empty()
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
                    self.transmit(now, max, &mut ring);
                }
                Action::Shutdown => {
                    busy = true;
                    self.shut = Shut::Ending;
                    match self.end_step(now, &mut ring) {
                        Ok(false) => {}
                        Ok(true) => self.lost(now, None, &mut ring),
                        Err(f) => self.lost(now, Some(f), &mut ring),
                    }
                }
            }
        };
        if busy {
            self.busy_polls += 1;
        }
        let deadline = match self.conn {
            Conn::Handshake | Conn::Open => self.wire.poll_timeout(),
            _ => None,
        };
        let next = if self.more_to_read { Some(now) } else { next };
        match (next, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The connection is open (the protocol's session too): records may go.
    fn opened(&mut self, now: Instant) {
        self.conn = Conn::Open;
        self.sender.on_connected(now);
        self.take_notes(None);
    }

    /// A connection attempt (or the protocol's session opening) failed.
    fn connect_failed(&mut self, now: Instant, f: Failure<L::Detail>) {
        self.drop_link();
        let server = self.sender.server();
        self.sender.on_connect_failed(now, f.kind);
        if let (NetError::Tls, Some(server)) = (f.kind, server) {
            self.sender.note_tls_failed(server);
        }
        self.take_notes(Some(f.detail));
    }
}
