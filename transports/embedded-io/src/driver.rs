//! The device driver: the core's driver loop over the user's blocking
//! `embedded-io` stream, a small chunk at a time.

use crate::stream::{net_error, Connector, PeerState, Stream};
use alooma_core::{
    parse_server, CloseReport, Config, Encoder, Failure, Instant, Link, NetError, Notification,
    Received, RingAccess, RingStats, SenderStats, Stats,
};
use embedded_io::{Error as _, Write as _};

/// Bytes copied out of the ring per write: the ring is never held while
/// the stream blocks, so interrupts can keep reporting. A loss marker
/// (about 220 bytes) must fit in it.
pub const CHUNK: usize = 256;

/// The user's connector and stream as the core's [`Link`].
pub struct StreamLink<'a, C: Connector> {
    connector: C,
    servers: &'a [&'a str],
    stream: Option<C::Stream>,
}

fn failure(kind: NetError, detail: &'static str) -> Failure<&'static str> {
    Failure::new(kind, detail)
}

impl<C: Connector> StreamLink<'_, C> {
    fn stream(&mut self) -> Result<&mut C::Stream, Failure<&'static str>> {
        self.stream
            .as_mut()
            .ok_or(failure(NetError::Other, "no connection"))
    }
}

impl<C: Connector> Link for StreamLink<'_, C> {
    type Detail = &'static str;

    fn connect(&mut self, server: usize) -> Result<(), Failure<&'static str>> {
        let addr = self
            .servers
            .get(server)
            .and_then(|s| parse_server(s).ok())
            .ok_or(failure(NetError::NameLookup, "bad server"))?;
        let s = self
            .connector
            .connect(addr)
            .map_err(|kind| failure(kind, "connect failed"))?;
        self.stream = Some(s);
        Ok(())
    }

    fn poll_connect(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(self.stream.is_some())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure<&'static str>> {
        match self.stream()?.write(bytes) {
            Ok(0) if !bytes.is_empty() => {
                Err(failure(NetError::PeerClosed, "the stream took nothing"))
            }
            Ok(n) => Ok(n),
            Err(e) => Err(failure(net_error(e.kind()), "write failed")),
        }
    }

    fn writable(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }

    fn flush(&mut self) -> Result<bool, Failure<&'static str>> {
        self.stream()?
            .flush()
            .map(|()| true)
            .map_err(|e| failure(net_error(e.kind()), "flush failed"))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure<&'static str>> {
        match self.stream()?.peer_state(buf) {
            PeerState::Open => Ok(Received::Nothing),
            PeerState::Data(n) => Ok(Received::Data(n.min(buf.len()))),
            PeerState::Ended => Ok(Received::End),
            PeerState::Failed(kind) => Err(failure(net_error(kind), "connection failed")),
        }
    }

    fn shutdown(&mut self) -> Result<bool, Failure<&'static str>> {
        let s = self.stream()?;
        s.flush()
            .and_then(|()| s.close_write())
            .map(|()| true)
            .map_err(|e| failure(net_error(e.kind()), "shutdown failed"))
    }

    fn close(&mut self) {
        self.stream = None;
    }
}

/// Drives one connection at a time to the configured servers: the core's
/// [`Driver`](alooma_core::Driver) over the user's stream.
pub struct Driver<'a, C: Connector> {
    inner: alooma_core::Driver<StreamLink<'a, C>, [u8; CHUNK], Encoder<'a>>,
}

impl<'a, C: Connector> Driver<'a, C> {
    /// A driver for `config` (validate it first) using `connector`.
    /// `seed` drives backoff jitter and server choice.
    pub fn new(config: &Config<'a>, connector: C, seed: u64) -> Self {
        let link = StreamLink {
            connector,
            servers: config.servers,
            stream: None,
        };
        let marker = config.loss_markers.then(|| config.encoder());
        Driver {
            inner: alooma_core::Driver::with_marker(
                config.sender(),
                config.wire(),
                link,
                [0; CHUNK],
                seed,
                marker,
            ),
        }
    }

    /// True while a stream is connected.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// The sender's counters.
    pub fn stats(&self) -> SenderStats {
        self.inner.stats()
    }

    /// Every counter, as every SDK reports them (`accepted`, `delivered`,
    /// `unconfirmed`, `unsent`, `dropped` add up), from the ring's counters
    /// (`ring.stats()`). `rejected`: events your code refused as invalid.
    pub fn sdk_stats(&self, ring: RingStats, rejected: u64) -> Stats {
        Stats::new(ring, self.inner.stats(), rejected, self.inner.busy_polls())
    }

    /// Where every event ended, as every SDK reports it after a close: call
    /// it once [`is_closed`](Self::is_closed) (or when you give up waiting);
    /// `clean` only if the close ended cleanly.
    pub fn close_report(&self, ring: RingStats, rejected: u64) -> CloseReport {
        CloseReport::new(
            ring,
            rejected,
            self.inner.closed_clean(),
            self.inner.loss_told(&ring),
        )
    }

    /// The next connection notification, oldest first (buffer notifications
    /// come from the ring's own `poll_notification`). Always `None` without
    /// feature `notify` (on by default).
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.inner.poll_notification().map(|(n, _)| n)
    }

    /// Asks for a graceful close: everything buffered is sent, the stream
    /// flushed and its writing side closed ([`Stream::close_write`]); the
    /// close is clean once the collector closes its side
    /// ([`Stream::peer_state`]).
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// True once a requested close ended (cleanly or not).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True once a requested close ended cleanly: the collector closed its
    /// side after reading everything, so every record sent is confirmed.
    pub fn closed_clean(&self) -> bool {
        self.inner.closed_clean()
    }

    /// Does all the work possible at `now`: connects, writes everything
    /// buffered, reconnects after failures. Returns when to call again at the
    /// latest (`None`: when something new is reported).
    pub fn poll<R: RingAccess>(&mut self, now: Instant, ring: R) -> Option<Instant> {
        self.inner.poll(now, ring)
    }

    /// [`poll`](Self::poll) reading the time from `clock` at each step (a
    /// device with a running timer): a poll that writes for a while then
    /// schedules what follows (a reconnection delay) from when it happens.
    pub fn poll_clock<R: RingAccess, K: FnMut() -> Instant>(
        &mut self,
        clock: K,
        ring: R,
    ) -> Option<Instant> {
        self.inner.poll_clock(clock, ring)
    }
}
