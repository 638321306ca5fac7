//! The guest-driven driver: the core's driver loop over WASI sockets, as
//! far as it can go without blocking, whenever the guest calls
//! [`Driver::poll`]; [`Driver::wait`] blocks on the connection's pollables
//! and a clock until something can move.

use crate::conn::{other, Conn, Failure};
use alooma_core::{
    parse_server, Config, Instant, Link, Loss, NetError, Notification, Out, Received, Ring,
    RingAccess, SenderStats, Storage,
};
use wasi::clocks::monotonic_clock;
use wasi::io::poll::poll;
use wasi::sockets::network::Network;

/// The monotonic clock as the core's [`Instant`].
pub fn now() -> Instant {
    Instant::from_micros(monotonic_clock::now() / 1000)
}

/// WASI Preview 2 sockets as the core's [`Link`]: one connection at a
/// time to the configured servers.
pub struct WasiLink {
    servers: Vec<String>,
    network: Option<Network>,
    conn: Option<Conn>,
    /// A flush of the output stream was asked for and has not completed.
    flushing: bool,
    /// The send buffer asked of each socket.
    send_buffer: u64,
}

impl WasiLink {
    /// The instance's network, asked of the runtime once, when first needed.
    fn network(&mut self) -> &Network {
        self.network
            .get_or_insert_with(wasi::sockets::instance_network::instance_network)
    }

    fn conn(&self) -> Result<&Conn, Failure> {
        self.conn.as_ref().ok_or_else(|| other("no connection"))
    }
}

impl Link for WasiLink {
    type Detail = String;

    fn connect(&mut self, server: usize) -> Result<(), Failure> {
        let server = self.servers.get(server).cloned().unwrap_or_default();
        let addr =
            parse_server(&server).map_err(|e| Failure::new(NetError::NameLookup, e.to_string()))?;
        let send_buffer = self.send_buffer;
        let network = self.network();
        let c = Conn::start(network, addr.host, addr.port, send_buffer)?;
        self.conn = Some(c);
        Ok(())
    }

    fn poll_connect(&mut self) -> Result<bool, Failure> {
        self.network();
        match (&mut self.conn, &self.network) {
            (Some(c), Some(n)) => c.advance(n),
            _ => Err(other("no connection")),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure> {
        let n = self.conn()?.write(bytes, &[])?;
        if n > 0 {
            // A flush asked for earlier does not cover these bytes.
            self.flushing = false;
        }
        Ok(n)
    }

    fn writable(&mut self) -> Result<bool, Failure> {
        self.conn()?.writable()
    }

    fn flush(&mut self) -> Result<bool, Failure> {
        if !self.flushing {
            self.conn()?.start_flush()?;
            self.flushing = true;
        }
        // The stream takes bytes again once the flush has completed.
        if self.conn()?.writable()? {
            self.flushing = false;
            return Ok(true);
        }
        Ok(false)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure> {
        Ok(match self.conn()?.read(buf)? {
            None => Received::End,
            Some(0) => Received::Nothing,
            Some(n) => Received::Data(n),
        })
    }

    fn shutdown(&mut self) -> Result<bool, Failure> {
        if !self.flush()? {
            return Ok(false);
        }
        self.conn()?.shutdown_send()?;
        Ok(true)
    }

    fn close(&mut self) {
        self.conn = None;
        self.flushing = false;
    }
}

/// Writes a loss marker (see [`alooma_core::Marker`]); the SDK stamps it.
pub type BoxMarker =
    Box<dyn FnMut(&Loss, &mut Out<'_>) -> Result<usize, alooma_core::EncodeError> + Send>;

/// Drives one connection at a time to the configured servers.
pub struct Driver {
    inner: alooma_core::Driver<WasiLink, Box<[u8]>, BoxMarker>,
}

impl Driver {
    /// A driver for `config` (validate it first), writing loss markers with
    /// `marker`. `seed` drives backoff jitter and server choice.
    pub fn new(config: &Config<'_>, seed: u64, marker: Option<BoxMarker>) -> Self {
        let link = WasiLink {
            servers: config.servers.iter().map(|s| s.to_string()).collect(),
            network: None,
            conn: None,
            flushing: false,
            // An eighth of the replay limit: the kernel holds up to twice
            // what is asked (Linux), leaving the rest of the limit to the
            // runtime's own buffer and the collector's.
            send_buffer: (config.replay_limit / 8).max(4096) as u64,
        };
        // A batch at most: the core copies each batch out of the ring.
        let scratch = vec![0u8; config.batch_bytes.clamp(1, 1 << 20)].into_boxed_slice();
        Driver {
            inner: alooma_core::Driver::with_marker(
                config.sender(),
                config.wire(),
                link,
                scratch,
                seed,
                marker,
            ),
        }
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// The sender's counters.
    pub fn stats(&self) -> SenderStats {
        self.inner.stats()
    }

    /// Polls that found work to do.
    pub fn busy_polls(&self) -> u64 {
        self.inner.busy_polls()
    }

    /// The next connection notification with the runtime's detail, oldest
    /// first (buffer notifications come from the ring).
    pub fn poll_notification(&mut self) -> Option<(Notification, Option<String>)> {
        self.inner.poll_notification()
    }

    /// Asks for a graceful close: everything buffered is sent and flushed,
    /// our side shut down, and the collector's end of stream awaited.
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// True once a requested close ended (cleanly or not).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True once a requested close ended cleanly (every record confirmed).
    pub fn closed_clean(&self) -> bool {
        self.inner.closed_clean()
    }

    /// True when the collector has proof of the loss totals in `ring`'s
    /// counters (see [`alooma_core::Driver::loss_told`]).
    pub fn loss_told(&self, ring: &alooma_core::RingStats) -> bool {
        self.inner.loss_told(ring)
    }

    /// True when everything in `ring` was written and the runtime has handed
    /// it to the OS (nothing waits in the output stream).
    pub fn is_flushed<S: Storage>(&self, ring: &Ring<S>) -> bool {
        self.inner.is_flushed(ring)
    }

    /// Does all the work possible at `now` without blocking: connects,
    /// writes what is buffered, flushes, reads what the collector sent,
    /// reconnects after failures. Always lets the runtime move pending I/O
    /// (`wasi:io/poll`). Returns when to call again at the latest (`None`:
    /// when something new is reported or [`wait`](Self::wait) returns).
    /// Later steps of the poll read the runtime's monotonic clock, so that
    /// what they schedule (a reconnection delay) counts from when it
    /// happens.
    pub fn poll<R: RingAccess>(&mut self, now: Instant, ring: R) -> Option<Instant> {
        let next = self.inner.poll_clock(|| now.max(self::now()), ring);
        // wasmtime moves a stream's pending writes only while the guest is
        // in `wasi:io/poll`: a zero-length timer is enough.
        let tick = monotonic_clock::subscribe_duration(0);
        poll(&[&tick]);
        next
    }

    /// Blocks until the connection can move (connected, room to write,
    /// flush done, data or end of stream from the collector) or the clock
    /// reaches `until`.
    pub fn wait(&self, until: Instant) {
        let want_output = self.inner.wants_writable();
        let ps = match &self.inner.link().conn {
            Some(c) => c.pollables(want_output),
            None => [None, None],
        };
        let timer = monotonic_clock::subscribe_instant(until.as_micros().saturating_mul(1000));
        // No allocation per wait: at most the connection's two and the timer.
        let mut refs = [&timer; 3];
        let mut n = 1;
        for p in ps.iter().flatten() {
            refs[n] = p;
            n += 1;
        }
        poll(&refs[..n]);
    }
}
