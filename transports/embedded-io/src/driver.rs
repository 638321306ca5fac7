//! The device driver: carries out the sender state machine's actions on a
//! blocking `embedded-io` stream, a small chunk at a time.

use crate::irq_ring::RingAccess;
use crate::stream::{net_error, Connector, Stream};
use alooma_core::{parse_server, Action, Config, Instant, NetError, Notification, Sender};
use embedded_io::{Error as _, Write as _};

/// Bytes copied out of the ring per write: the ring is never held while
/// the stream blocks, so interrupts can keep reporting.
pub const CHUNK: usize = 64;

/// Drives one connection at a time to the configured servers.
pub struct Driver<'a, C: Connector> {
    sender: Sender,
    connector: C,
    servers: &'a [&'a str],
    stream: Option<C::Stream>,
}

impl<'a, C: Connector> Driver<'a, C> {
    /// A driver for `config` (validate it first) using `connector`.
    /// `seed` drives backoff jitter and server choice.
    pub fn new(config: &Config<'a>, connector: C, seed: u64) -> Self {
        Driver {
            sender: Sender::new(config.sender(), seed),
            connector,
            servers: config.servers,
            stream: None,
        }
    }

    /// True while a stream is connected.
    pub fn is_connected(&self) -> bool {
        self.sender.is_connected()
    }

    /// The sender's counters.
    pub fn stats(&self) -> alooma_core::SenderStats {
        self.sender.stats()
    }

    /// The next connection notification, oldest first (buffer notifications
    /// come from the ring's own `poll_notification`).
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.sender.poll_notification()
    }

    /// Asks for a graceful close: everything buffered is sent, then the
    /// stream is flushed and dropped.
    pub fn close(&mut self) {
        self.sender.close();
    }

    /// True once a requested close completed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Does all the work possible at `now`: connects, writes everything
    /// buffered, reconnects after failures. Returns when to call again at the
    /// latest (`None`: when something new is reported).
    pub fn poll<R: RingAccess>(&mut self, now: Instant, mut ring: R) -> Option<Instant> {
        loop {
            if self.stream.as_mut().is_some_and(|s| s.peer_closed()) {
                self.stream = None;
                ring.with(|r| self.sender.on_closed(now, Some(NetError::PeerClosed), r));
            }
            let action = ring.with(|r| self.sender.poll(now, r))?;
            match action {
                Action::Wait { until } => return until,
                Action::Connect { server } => {
                    let r = match parse_server(self.servers[server]) {
                        Ok(addr) => self.connector.connect(addr),
                        Err(_) => Err(NetError::NameLookup),
                    };
                    match r {
                        Ok(s) => {
                            self.stream = Some(s);
                            self.sender.on_connected(now);
                        }
                        Err(e) => self.sender.on_connect_failed(now, e),
                    }
                }
                Action::Abort { .. } => self.stream = None,
                Action::Transmit { max } => {
                    let mut chunk = [0u8; CHUNK];
                    let n = ring
                        .with(|r| {
                            let t = r.transmit(max.min(CHUNK));
                            // Copy at most one chunk; the rest stays unsent.
                            let a = t.first.len().min(CHUNK);
                            chunk[..a].copy_from_slice(&t.first[..a]);
                            let b = t.second.len().min(CHUNK - a);
                            chunk[a..a + b].copy_from_slice(&t.second[..b]);
                            a + b
                        })
                        .unwrap_or(0);
                    let Some(s) = self.stream.as_mut() else {
                        ring.with(|r| self.sender.on_closed(now, Some(NetError::Other), r));
                        continue;
                    };
                    match s.write(&chunk[..n]) {
                        Ok(w) if w > 0 || n == 0 => {
                            ring.with(|r| self.sender.on_sent(now, w, r));
                        }
                        Ok(_) => {
                            self.stream = None;
                            ring.with(|r| {
                                self.sender.on_closed(now, Some(NetError::PeerClosed), r)
                            });
                        }
                        Err(e) => {
                            self.stream = None;
                            ring.with(|r| self.sender.on_closed(now, Some(net_error(e.kind())), r));
                        }
                    }
                }
                Action::Shutdown => {
                    let clean = self.stream.take().is_some_and(|mut s| s.flush().is_ok());
                    let how = if clean { None } else { Some(NetError::Other) };
                    ring.with(|r| self.sender.on_closed(now, how, r));
                }
            }
        }
    }
}
