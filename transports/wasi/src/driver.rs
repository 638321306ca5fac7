//! The guest-driven driver: carries out the sender state machine's actions
//! over WASI sockets, as far as it can without blocking, whenever the guest
//! calls [`Driver::poll`]; [`Driver::wait`] blocks on the connection's
//! pollables and a clock until something can move.

use crate::conn::{Conn, Failure};
use alooma_core::{parse_server, Action, Config, Instant, Notification, Ring, Sender, Storage};
use std::collections::VecDeque;
use wasi::clocks::monotonic_clock;
use wasi::io::poll::{poll, Pollable};
use wasi::sockets::network::Network;

/// The monotonic clock as the core's [`Instant`].
pub fn now() -> Instant {
    Instant::from_micros(monotonic_clock::now() / 1000)
}

/// The instance's network, asked of the runtime once, when first needed.
fn network(slot: &mut Option<Network>) -> &Network {
    slot.get_or_insert_with(wasi::sockets::instance_network::instance_network)
}

/// Most notifications kept for [`Driver::poll_notification`]; older ones go.
const MAX_NOTES: usize = 64;

/// Drives one connection at a time to the configured servers.
pub struct Driver {
    sender: Sender,
    servers: Vec<String>,
    network: Option<Network>,
    conn: Option<Conn>,
    /// Bytes were written since the output stream was last flushed.
    dirty: bool,
    /// A flush was asked of the output stream and has not completed.
    flushing: bool,
    /// The stream had no room at the last write.
    blocked: bool,
    /// A graceful shutdown waits for its flush.
    shutting: bool,
    notes: VecDeque<(Notification, Option<String>)>,
    polls: u64,
}

impl Driver {
    /// A driver for `config` (validate it first). `seed` drives backoff
    /// jitter and server choice.
    pub fn new(config: &Config<'_>, seed: u64) -> Self {
        Driver {
            sender: Sender::new(config.sender(), seed),
            servers: config.servers.iter().map(|s| s.to_string()).collect(),
            network: None,
            conn: None,
            dirty: false,
            flushing: false,
            blocked: false,
            shutting: false,
            notes: VecDeque::new(),
            polls: 0,
        }
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.sender.is_connected()
    }

    /// The sender's counters.
    pub fn stats(&self) -> alooma_core::SenderStats {
        self.sender.stats()
    }

    /// Polls that found work to do.
    pub fn busy_polls(&self) -> u64 {
        self.polls
    }

    /// The next connection notification with the runtime's detail, oldest
    /// first (buffer notifications come from the ring).
    pub fn poll_notification(&mut self) -> Option<(Notification, Option<String>)> {
        self.notes.pop_front()
    }

    /// Asks for a graceful close: everything buffered is sent, flushed, and
    /// the connection shut down.
    pub fn close(&mut self) {
        self.sender.close();
    }

    /// True once a requested close completed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// True when everything in `ring` was written and the runtime has handed
    /// it to the OS (nothing waits in the output stream).
    pub fn is_flushed<S: Storage>(&self, ring: &Ring<S>) -> bool {
        ring.unsent_records() == 0 && ring.in_flight() == 0 && !self.dirty && !self.flushing
    }

    fn take_notes(&mut self, detail: Option<&Failure>) {
        while let Some(n) = self.sender.poll_notification() {
            let d = match n {
                Notification::ConnectFailed { .. }
                | Notification::SendFailed { .. }
                | Notification::Disconnected { .. } => detail.map(|f| f.detail.clone()),
                _ => None,
            };
            if self.notes.len() == MAX_NOTES {
                self.notes.pop_front();
            }
            self.notes.push_back((n, d));
        }
    }

    fn lost<S: Storage>(&mut self, now: Instant, f: Option<Failure>, ring: &mut Ring<S>) {
        self.conn = None;
        self.dirty = false;
        self.flushing = false;
        self.blocked = false;
        self.shutting = false;
        self.sender.on_closed(now, f.as_ref().map(|f| f.kind), ring);
        self.take_notes(f.as_ref());
    }

    /// Does all the work possible at `now` without blocking: connects,
    /// writes what is buffered, flushes, reconnects after failures. Always
    /// lets the runtime move pending I/O (`wasi:io/poll`). Returns when to
    /// call again at the latest (`None`: when something new is reported or
    /// [`wait`](Self::wait) returns).
    pub fn poll<S: Storage>(&mut self, now: Instant, ring: &mut Ring<S>) -> Option<Instant> {
        let next = self.work(now, ring);
        // wasmtime moves a stream's pending writes only while the guest is
        // in `wasi:io/poll`: a zero-length timer is enough.
        let tick = monotonic_clock::subscribe_duration(0);
        poll(&[&tick]);
        next
    }

    fn work<S: Storage>(&mut self, now: Instant, ring: &mut Ring<S>) -> Option<Instant> {
        let mut busy = false;
        // 1. The connection's own progress.
        if let Some(conn) = &mut self.conn {
            if !self.sender.is_connected() {
                let network = network(&mut self.network);
                match conn.advance(network) {
                    Ok(true) => {
                        busy = true;
                        self.sender.on_connected(now);
                        self.take_notes(None);
                    }
                    Ok(false) => {}
                    Err(f) => {
                        busy = true;
                        self.conn = None;
                        self.sender.on_connect_failed(now, f.kind);
                        self.take_notes(Some(&f));
                    }
                }
            } else {
                let r = conn.check_peer().and_then(|()| {
                    if self.blocked || self.flushing {
                        conn.writable()
                    } else {
                        Ok(false)
                    }
                });
                match r {
                    Ok(true) => {
                        busy = true;
                        self.blocked = false;
                        if self.flushing {
                            self.flushing = false;
                            self.dirty = false;
                        }
                        self.sender.on_writable();
                    }
                    Ok(false) => {}
                    Err(f) => {
                        busy = true;
                        self.lost(now, Some(f), ring);
                    }
                }
            }
        }
        if self.shutting {
            if self.flushing {
                return self.count(busy, None);
            }
            let clean = self.conn.take().is_some_and(|c| c.shutdown().is_ok());
            let how = (!clean).then(|| Failure::other("shutdown failed"));
            self.lost(now, how, ring);
            busy = true;
        }
        // 2. The sender's actions.
        let next = loop {
            match self.sender.poll(now, ring) {
                Action::Wait { until } => break until,
                Action::Connect { server } => {
                    busy = true;
                    let network = network(&mut self.network);
                    let started = match parse_server(&self.servers[server]) {
                        Ok(a) => Conn::start(network, a.host, a.port),
                        Err(e) => Err(Failure {
                            kind: alooma_core::NetError::NameLookup,
                            detail: e.to_string(),
                        }),
                    };
                    match started.and_then(|mut c| c.advance(network).map(|open| (c, open))) {
                        Ok((c, open)) => {
                            self.conn = Some(c);
                            if open {
                                self.sender.on_connected(now);
                            }
                            self.take_notes(None);
                        }
                        Err(f) => {
                            self.sender.on_connect_failed(now, f.kind);
                            self.take_notes(Some(&f));
                        }
                    }
                }
                Action::Abort { .. } => {
                    busy = true;
                    self.conn = None;
                    self.take_notes(None);
                }
                Action::Transmit { max } => {
                    busy = true;
                    let t = ring.transmit(max);
                    let len = t.len();
                    let written = match &self.conn {
                        Some(c) => c.write(t.first, t.second),
                        None => Err(Failure::other("no connection")),
                    };
                    match written {
                        Ok(n) => {
                            if n > 0 {
                                self.dirty = true;
                            }
                            if n < len {
                                self.blocked = true;
                                self.sender.on_blocked(now, n, ring);
                            } else {
                                self.sender.on_sent(now, n, ring);
                            }
                        }
                        Err(f) => self.lost(now, Some(f), ring),
                    }
                }
                Action::Shutdown => {
                    busy = true;
                    self.shutting = true;
                    self.start_flush(now, ring);
                    return self.count(busy, None);
                }
            }
        };
        // 3. Everything written: have the runtime hand it to the OS.
        if self.dirty && !self.flushing && ring.pending_bytes() == 0 && self.conn.is_some() {
            self.start_flush(now, ring);
        }
        self.count(busy, next)
    }

    fn start_flush<S: Storage>(&mut self, now: Instant, ring: &mut Ring<S>) {
        match self.conn.as_ref().map(Conn::start_flush) {
            Some(Ok(())) => self.flushing = true,
            Some(Err(f)) => self.lost(now, Some(f), ring),
            None => {}
        }
    }

    fn count(&mut self, busy: bool, next: Option<Instant>) -> Option<Instant> {
        if busy {
            self.polls += 1;
        }
        next
    }

    /// Blocks until the connection can move (connected, room to write,
    /// flush done, peer closed) or the clock reaches `until`.
    pub fn wait(&self, until: Instant) {
        let want_output = self.blocked || self.flushing;
        let mut ps: Vec<Pollable> = match &self.conn {
            Some(c) => c.pollables(want_output),
            None => Vec::new(),
        };
        ps.push(monotonic_clock::subscribe_instant(
            until.as_micros().saturating_mul(1000),
        ));
        let refs: Vec<&Pollable> = ps.iter().collect();
        poll(&refs);
    }
}
