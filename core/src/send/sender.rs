//! The sender's state machine: when to connect and to which server, when to
//! write and how much, when to wait, and what to replay after a lost
//! connection. It does no I/O and reads no clock: the driver calls
//! [`Sender::poll`] with the time, carries out the [`Action`] it gets, and
//! reports the outcome (`on_connected`, `on_sent`, `on_closed`, …).

use crate::api::notify::{NetError, Notification};
use crate::buffer::confirm::Confirm;
use crate::buffer::ring::{Cursor, Ring, Storage};
use crate::send::backoff::Backoff;
use crate::send::rng::Rng;
use crate::send::server_choice::Strategy;
use crate::send::time::Instant;
use core::time::Duration;

/// A connection that stays up this long counts as a success: the backoff
/// starts over after it is lost (so does one that made progress: see
/// [`Sender::on_closed`]).
pub const STABLE_AFTER: Duration = Duration::from_secs(1);

/// While bytes written are not yet acknowledged and acknowledgements could
/// confirm records, the sender asks to be polled this often (transports that
/// see acknowledgements only).
pub const ACK_POLL: Duration = Duration::from_millis(5);

/// Notifications one step may make before the driver takes them (devices:
/// 4, each is 80 bytes of RAM there).
#[cfg(feature = "notify")]
const SENDER_NOTES: usize = if cfg!(target_os = "none") { 4 } else { 8 };

/// Server `i`'s bit in a 64-bit set (`i` above 63: the last), without a
/// 64-bit shift (32-bit devices have none).
fn bit(i: usize) -> u64 {
    let b = (1u32 << (i.min(63) & 31)) as u64;
    if i < 32 {
        b
    } else {
        b << 32
    }
}

/// The sender's settings (see [`Config`](crate::Config) for their meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// Number of configured servers (1..=64).
    pub servers: usize,
    /// Server choice.
    pub strategy: Strategy,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Longest a connection attempt may take.
    pub connect_timeout: Duration,
    /// Most bytes per write.
    pub batch_bytes: usize,
    /// Wait this long for a fuller batch.
    pub linger: Duration,
    /// Least time between two writes of less than a batch (see
    /// [`Config::coalesce`](crate::Config::coalesce)).
    pub coalesce: Duration,
    /// The confirmation rule.
    pub confirm: Confirm,
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to this server (resolve its name, try each
    /// address), then call [`Sender::on_connected`] or
    /// [`Sender::on_connect_failed`].
    Connect {
        /// Index into the configured servers.
        server: usize,
    },
    /// The connection attempt (or the wait for the collector's side of a
    /// close) timed out: drop the connection. Nothing to report back.
    Abort {
        /// The server that was being connected to.
        server: usize,
    },
    /// Write the ring's next bytes (at most `max`) and report with [`Sender::on_sent`]
    /// (or [`Sender::on_blocked`] / [`Sender::on_closed`]).
    Transmit {
        /// Most bytes to take from the ring.
        max: usize,
    },
    /// Everything is sent and a close was asked for: shut the connection down
    /// for writing (FIN, TLS `close_notify`), wait for the collector to close
    /// its side, then report [`Sender::on_closed`] with `None` (an error if
    /// it failed). If the collector does not close its side by the connect
    /// timeout, the sender asks to [`Abort`](Action::Abort) instead and the
    /// window stays unconfirmed.
    Shutdown,
    /// Nothing to do until this time (`None`: until an outside event, such as
    /// a new record, writability or a connection outcome).
    Wait {
        /// When to poll again at the latest.
        until: Option<Instant>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected {
        retry_at: Instant,
    },
    Connecting {
        server: usize,
        deadline: Instant,
    },
    Connected {
        server: usize,
        since: Instant,
        writable: bool,
    },
    ShuttingDown {
        server: usize,
        deadline: Instant,
    },
    Closed {
        clean: bool,
    },
}

/// Connection and delivery counters kept by the sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Connection attempts started.
    pub connects: u64,
    /// Attempts that failed or timed out.
    pub connect_failures: u64,
    /// Established connections later lost.
    pub disconnects: u64,
    /// Bytes written to connections.
    pub bytes_sent: u64,
    /// In-band loss marker records written (a marker whose connection was
    /// lost before it was confirmed is written again, and counted again).
    pub loss_markers: u64,
    /// The reconnection delays chosen (backoff), added up, in microseconds.
    pub backoff_micros: u64,
}

/// The sender state machine.
#[derive(Debug)]
pub struct Sender {
    cfg: SenderConfig,
    state: State,
    rng: Rng,
    /// Servers tried in the current round (bit per server).
    tried: u64,
    last: Option<usize>,
    failed_rounds: u32,
    pending_since: Option<Instant>,
    /// When the last transmit was asked for on this connection.
    last_transmit: Option<Instant>,
    /// Waiting out [`SenderConfig::coalesce`] with less than a batch.
    coalescing: bool,
    /// Ring stream position where the current connection started sending.
    conn_start: Option<u64>,
    /// Bytes the collector's kernel acknowledged on this connection.
    acked: u64,
    /// Bytes written on this connection that are not the ring's (loss
    /// markers).
    extra: u64,
    /// This connection made progress: a record confirmed, or (plain TCP)
    /// a batch acknowledged by the collector's kernel.
    progress: bool,
    closing: bool,
    /// A loss the collector has no proof of yet (the driver's markers): a
    /// close connects to tell it even with nothing else to send.
    untold: bool,
    #[cfg(feature = "notify")]
    notes: heapless::Deque<Notification, SENDER_NOTES>,
    stats: SenderStats,
}

impl Sender {
    /// A sender that will connect at the first poll. `seed` drives jitter and
    /// random server choice.
    pub fn new(cfg: SenderConfig, seed: u64) -> Self {
        Sender {
            cfg,
            state: State::Disconnected {
                retry_at: Instant::ZERO,
            },
            rng: Rng::new(seed),
            tried: 0,
            last: None,
            failed_rounds: 0,
            pending_since: None,
            last_transmit: None,
            coalescing: false,
            conn_start: None,
            acked: 0,
            extra: 0,
            progress: false,
            closing: false,
            untold: false,
            #[cfg(feature = "notify")]
            notes: heapless::Deque::new(),
            stats: SenderStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SenderConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// True while a connection is established.
    pub fn is_connected(&self) -> bool {
        matches!(
            self.state,
            State::Connected { .. } | State::ShuttingDown { .. }
        )
    }

    /// True while a connection is established and not being shut down.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Connected { .. })
    }

    /// The server connected to or being connected to.
    pub fn server(&self) -> Option<usize> {
        match self.state {
            State::Connecting { server, .. }
            | State::Connected { server, .. }
            | State::ShuttingDown { server, .. } => Some(server),
            _ => None,
        }
    }

    /// True when connected, writable and with nothing left to send: a new
    /// record is worth waking the driver for. (Disconnected, blocked or busy,
    /// the driver wakes by itself.)
    pub fn awaits_records<S: Storage>(&self, ring: &Ring<S>) -> bool {
        matches!(self.state, State::Connected { writable: true, .. }) && ring.pending_bytes() == 0
    }

    /// From how many pending bytes a new record is worth waking the driver
    /// for, as of the last [`poll`](Self::poll): 1 when it waits for records
    /// ([`awaits_records`](Self::awaits_records)), a batch while it waits
    /// out [`SenderConfig::coalesce`]; `None` when it wakes by itself.
    pub fn wake_at<S: Storage>(&self, ring: &Ring<S>) -> Option<usize> {
        if self.awaits_records(ring) {
            Some(1)
        } else if self.coalescing {
            Some(self.batch(ring))
        } else {
            None
        }
    }

    /// The most bytes one transmit takes. A batch takes at most a quarter
    /// of the ring: bytes being written cannot be dropped, so `DropOldest`
    /// keeps room to work.
    fn batch<S: Storage>(&self, ring: &Ring<S>) -> usize {
        self.cfg.batch_bytes.min((ring.capacity() / 4).max(1))
    }

    /// True once a requested close has ended: cleanly, or with the
    /// collector not closing its side in time (see
    /// [`closed_clean`](Self::closed_clean)).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }

    /// True once a requested close ended cleanly: everything sent, and the
    /// collector closed its side after reading it all (or nothing was ever
    /// left to prove).
    pub fn closed_clean(&self) -> bool {
        self.state == State::Closed { clean: true }
    }

    /// Consecutive failed rounds (every server tried) since the last success.
    pub fn failed_rounds(&self) -> u32 {
        self.failed_rounds
    }

    /// Asks for a graceful close: send what is buffered, then
    /// [`Action::Shutdown`].
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether a loss is still to be told (a loss marker the collector has
    /// no proof of): a close then connects to tell it, even with no record
    /// left to send (after a restart that recovered nothing but damage,
    /// say).
    pub fn set_untold(&mut self, untold: bool) {
        self.untold = untold;
    }

    /// Keeps `n` for [`poll_notification`](Self::poll_notification) (the
    /// oldest goes when full). Without feature `notify`, nothing is kept.
    fn note(&mut self, n: Notification) {
        #[cfg(feature = "notify")]
        {
            if self.notes.is_full() {
                self.notes.pop_front();
            }
            let _ = self.notes.push_back(n);
        }
        #[cfg(not(feature = "notify"))]
        let _ = n;
    }

    /// Tells the user that TLS with `server` failed (the driver knows why a
    /// connection attempt failed; the sender only its kind).
    pub fn note_tls_failed(&mut self, server: usize) {
        self.note(Notification::TlsFailed { server });
    }

    /// The next notification, oldest first (always `None` without feature
    /// `notify`).
    pub fn poll_notification(&mut self) -> Option<Notification> {
        #[cfg(feature = "notify")]
        return self.notes.pop_front();
        #[cfg(not(feature = "notify"))]
        None
    }

    fn all_mask(&self) -> u64 {
        // (32-bit halves: no 64-bit shifts on a 32-bit device.)
        match self.cfg.servers {
            n @ 0..32 => ((1u32 << n) - 1) as u64,
            n @ 32..64 => (((1u32 << (n - 32)) - 1) as u64) << 32 | u32::MAX as u64,
            _ => u64::MAX,
        }
    }

    fn pick(&mut self) -> usize {
        let all = self.all_mask();
        if self.tried & all == all {
            self.tried = 0;
        }
        self.cfg
            .strategy
            .pick(self.cfg.servers, self.tried, self.last, &mut self.rng)
    }

    /// What to do at time `now`.
    pub fn poll<S: Storage>(&mut self, now: Instant, ring: &Ring<S>) -> Action {
        match self.state {
            State::Closed { .. } => Action::Wait { until: None },
            State::Disconnected { retry_at } => {
                // A lost connection rewinds its window: nothing unsent means
                // nothing unconfirmed either.
                if self.closing
                    && ring.unsent_records() == 0
                    && ring.window_records() == 0
                    && !self.untold
                {
                    self.state = State::Closed { clean: true };
                    return Action::Wait { until: None };
                }
                if now < retry_at {
                    return Action::Wait {
                        until: Some(retry_at),
                    };
                }
                let server = self.pick();
                self.last = Some(server);
                self.state = State::Connecting {
                    server,
                    deadline: now + self.cfg.connect_timeout,
                };
                self.stats.connects += 1;
                self.note(Notification::Connecting { server });
                Action::Connect { server }
            }
            State::Connecting { server, deadline } => {
                if now >= deadline {
                    self.failed(now, server, NetError::TimedOut);
                    Action::Abort { server }
                } else {
                    Action::Wait {
                        until: Some(deadline),
                    }
                }
            }
            State::Connected {
                server, writable, ..
            } => {
                self.conn_start.get_or_insert(ring.sent_position());
                self.coalescing = false;
                let pending = ring.pending_bytes();
                if pending == 0 {
                    self.pending_since = None;
                    if self.closing && ring.unsent_bytes() == 0 {
                        self.state = State::ShuttingDown {
                            server,
                            deadline: now + self.cfg.connect_timeout,
                        };
                        return Action::Shutdown;
                    }
                    return Action::Wait {
                        until: self.ack_poll(now, ring),
                    };
                }
                if !writable || ring.in_flight() > 0 {
                    return Action::Wait {
                        until: self.ack_poll(now, ring),
                    };
                }
                let since = *self.pending_since.get_or_insert(now);
                let batch = self.batch(ring);
                if !self.cfg.linger.is_zero() && pending < self.cfg.batch_bytes && !self.closing {
                    let due = since + self.cfg.linger;
                    if now < due {
                        return Action::Wait { until: Some(due) };
                    }
                }
                // Under sustained traffic, small writes wait to go together.
                if let (Some(last), false, false) =
                    (self.last_transmit, pending >= batch, self.closing)
                {
                    let due = last + self.cfg.coalesce;
                    if now < due {
                        self.coalescing = true;
                        return Action::Wait { until: Some(due) };
                    }
                }
                self.last_transmit = Some(now);
                Action::Transmit { max: batch }
            }
            State::ShuttingDown { server, deadline } => {
                if now >= deadline {
                    // The collector never closed its side: nothing proves
                    // it read the window, which stays unconfirmed.
                    self.state = State::Closed { clean: false };
                    self.conn_start = None;
                    self.note(Notification::CloseUnconfirmed {
                        server,
                        unconfirmed: ring.window_records(),
                    });
                    Action::Abort { server }
                } else {
                    Action::Wait {
                        until: Some(deadline),
                    }
                }
            }
        }
    }

    /// When to poll again to read acknowledgements: only while some are
    /// outstanding and could confirm a record of the window.
    fn ack_poll<S: Storage>(&self, now: Instant, ring: &Ring<S>) -> Option<Instant> {
        if !matches!(self.cfg.confirm, Confirm::Acked { .. }) {
            return None;
        }
        let start = self.conn_start?;
        let written = ring.sent_position().saturating_sub(start) + self.extra;
        let could = self
            .cfg
            .confirm
            .acked(start, written, self.extra)
            .unwrap_or(0);
        (self.acked < written && could > ring.confirmed_position() && ring.window_records() > 0)
            .then(|| now + ACK_POLL)
    }

    fn failed(&mut self, now: Instant, server: usize, error: NetError) {
        self.stats.connect_failures += 1;
        self.note(Notification::ConnectFailed { server, error });
        self.tried |= bit(server);
        let all = self.all_mask();
        let retry_at = if self.tried & all == all {
            // Every server failed this round: back off.
            self.tried = 0;
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            now + self.backoff()
        } else {
            now
        };
        self.state = State::Disconnected { retry_at };
    }

    /// The next reconnection delay (counted in the stats).
    fn backoff(&mut self) -> Duration {
        let d = self.cfg.backoff.delay(self.failed_rounds, &mut self.rng);
        self.stats.backoff_micros += crate::send::time::micros(d);
        d
    }

    /// The connection made progress (the driver saw the collector confirm
    /// a record): when it is lost, the backoff starts over.
    pub fn on_progress(&mut self) {
        self.progress = true;
    }

    /// The connection asked for by [`Action::Connect`] is established.
    pub fn on_connected(&mut self, now: Instant) {
        if let State::Connecting { server, .. } = self.state {
            self.state = State::Connected {
                server,
                since: now,
                writable: true,
            };
            self.tried = 0;
            self.pending_since = None;
            self.last_transmit = None;
            self.conn_start = None;
            self.acked = 0;
            self.extra = 0;
            self.progress = false;
            self.note(Notification::Connected { server });
        }
    }

    /// The connection asked for by [`Action::Connect`] failed.
    pub fn on_connect_failed(&mut self, now: Instant, error: NetError) {
        if let State::Connecting { server, .. } = self.state {
            self.failed(now, server, error);
        }
    }

    /// `n` bytes of the last transmit were written (0 is allowed).
    pub fn on_sent<S: Storage>(&mut self, now: Instant, n: usize, ring: &mut Ring<S>) {
        ring.mark_sent(n);
        self.sent(now, n, ring);
    }

    /// Like [`on_sent`](Self::on_sent) when the driver counted the records
    /// those `n` bytes completed (the newlines in its copy of them).
    pub fn on_sent_records<S: Storage>(
        &mut self,
        now: Instant,
        n: usize,
        records: usize,
        ring: &mut Ring<S>,
    ) {
        ring.mark_sent_records(n, records);
        self.sent(now, n, ring);
    }

    fn sent<S: Storage>(&mut self, _now: Instant, n: usize, ring: &mut Ring<S>) {
        self.stats.bytes_sent += n as u64;
        // Records before this connection's start were confirmed or rewound,
        // so a position before it confirms nothing.
        if let Some(pos) = self.cfg.confirm.written(ring.sent_position()) {
            if ring.confirm(pos) > 0 {
                self.progress = true;
            }
        }
    }

    /// The collector's kernel has acknowledged `acked` bytes of this
    /// connection (rule [`Confirm::Acked`]; ignored under the other rule).
    /// Returns how many records this confirmed.
    pub fn on_acked<S: Storage>(&mut self, _now: Instant, acked: u64, ring: &mut Ring<S>) -> usize {
        let (Confirm::Acked { .. }, Some(start), true) =
            (self.cfg.confirm, self.conn_start, self.is_connected())
        else {
            return 0;
        };
        self.acked = self.acked.max(acked);
        // The collector's kernel took a batch: it is up and reading.
        if self.acked >= self.cfg.batch_bytes as u64 {
            self.progress = true;
        }
        match self.cfg.confirm.acked(start, self.acked, self.extra) {
            Some(pos) => ring.confirm(pos),
            None => 0,
        }
    }

    /// `n` bytes that are not the ring's (a loss marker) were written to the
    /// connection; `marker`: a whole marker record was completed.
    pub fn on_extra_sent(&mut self, n: usize, marker: bool) {
        self.extra += n as u64;
        self.stats.bytes_sent += n as u64;
        self.stats.loss_markers += marker as u64;
    }

    /// `n` bytes of the last transmit were put into frames (RELP: the
    /// records count as sent; the driver writes the frames and counts
    /// their bytes with [`on_extra_sent`](Self::on_extra_sent)).
    pub fn on_framed<S: Storage>(&mut self, n: usize, ring: &mut Ring<S>) {
        ring.mark_sent(n);
    }

    /// The collector answered every frame of a session that used its
    /// transaction numbers, and the session was closed: connect again at
    /// once (not a failure, nothing to replay).
    pub fn on_session_end(&mut self, now: Instant) {
        if let State::Connected { .. } = self.state {
            self.pending_since = None;
            self.conn_start = None;
            self.state = State::Disconnected { retry_at: now };
        }
    }

    /// The collector itself acknowledged everything up to the absolute ring
    /// stream position `pos` (an acknowledged protocol): those records are
    /// confirmed. Returns how many.
    pub fn confirm_through<S: Storage>(&mut self, pos: u64, ring: &mut Ring<S>) -> usize {
        ring.confirm(pos.min(ring.sent_position()))
    }

    /// The connection cannot take more bytes now; wait for
    /// [`on_writable`](Self::on_writable). `n` bytes were written first.
    pub fn on_blocked<S: Storage>(&mut self, now: Instant, n: usize, ring: &mut Ring<S>) {
        self.on_sent(now, n, ring);
        self.not_writable();
    }

    /// Like [`on_blocked`](Self::on_blocked) when the driver counted the
    /// records those `n` bytes completed (the newlines in its copy of them).
    pub fn on_blocked_records<S: Storage>(
        &mut self,
        now: Instant,
        n: usize,
        records: usize,
        ring: &mut Ring<S>,
    ) {
        self.on_sent_records(now, n, records, ring);
        self.not_writable();
    }

    fn not_writable(&mut self) {
        // The link, not the producers, is the limit: nothing to gather.
        self.last_transmit = None;
        if let State::Connected {
            ref mut writable, ..
        } = self.state
        {
            *writable = false;
        }
    }

    /// The connection cannot take more bytes now (after writing bytes that
    /// are not the ring's); wait for [`on_writable`](Self::on_writable).
    pub fn on_blocked_extra(&mut self, _now: Instant) {
        self.not_writable();
    }

    /// The connection can take bytes again.
    pub fn on_writable(&mut self) {
        if let State::Connected {
            ref mut writable, ..
        } = self.state
        {
            *writable = true;
        }
    }

    /// The connection ended. `error`: `None` after a graceful
    /// [`Action::Shutdown`]; otherwise why it was lost (a write error, reset,
    /// or the peer closing). Records it may not have delivered are replayed.
    pub fn on_closed<S: Storage>(
        &mut self,
        now: Instant,
        error: Option<NetError>,
        ring: &mut Ring<S>,
    ) {
        let (server, since) = match self.state {
            State::Connected { server, since, .. } => (server, Some(since)),
            State::ShuttingDown { server, .. } => (server, None),
            State::Connecting { server, .. } => {
                ring.cancel_transmit();
                self.failed(now, server, error.unwrap_or(NetError::PeerClosed));
                return;
            }
            _ => {
                ring.cancel_transmit();
                return;
            }
        };
        self.pending_since = None;
        self.conn_start = None;
        if error.is_none() && matches!(self.state, State::ShuttingDown { .. }) {
            // We ended our side, the collector read to the end and ended
            // its own: it has everything sent on this connection.
            ring.confirm_sent();
            self.state = State::Closed { clean: true };
            return;
        }
        let error = error.unwrap_or(NetError::PeerClosed);
        // Nothing proves the collector read the window: send it all again.
        let replayed = ring.rewind();
        self.stats.disconnects += 1;
        let n = if matches!(error, NetError::PeerClosed) {
            Notification::Disconnected {
                server,
                error,
                replayed,
            }
        } else {
            Notification::SendFailed {
                server,
                error,
                replayed,
            }
        };
        self.note(n);
        // Backoff protects a collector that refuses or fails at once, not
        // one that worked and then failed: after a connection that made
        // progress (or stayed up), reconnect at once.
        let stable =
            self.progress || since.is_some_and(|s| now.saturating_since(s) >= STABLE_AFTER);
        let retry_at = if stable {
            self.failed_rounds = 0;
            now
        } else {
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            now + self.backoff()
        };
        // Start a new round, trying another server first when there is one.
        self.tried = if self.cfg.servers > 1 { bit(server) } else { 0 };
        self.state = State::Disconnected { retry_at };
    }
}
