//! What a transport gives the core's [`Driver`](crate::Driver): a link that
//! carries one connection at a time without blocking, and access to the
//! ring. In the spirit of smoltcp's `phy::Device`: the transport moves
//! bytes, the core decides which and when.

use crate::api::notify::NetError;
use crate::buffer::ring::{Ring, Storage};

/// Why a connection attempt or connection failed: the kind the sender
/// understands, and the transport's own words (`D`: a `String` on hosts,
/// `()` or a `&'static str` on devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<D> {
    /// The kind.
    pub kind: NetError,
    /// What the OS or runtime said.
    pub detail: D,
}

impl<D> Failure<D> {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: NetError, detail: D) -> Self {
        Failure { kind, detail }
    }
}

/// What a non-blocking read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Nothing to read now.
    Nothing,
    /// This many bytes were read into the buffer.
    Data(usize),
    /// The collector closed its side (end of stream).
    End,
}

/// One connection at a time to one of the configured servers, never
/// blocking (a device's blocking stream may block inside `write`; the
/// driver then simply takes longer). Every method but
/// [`connect`](Link::connect) and [`close`](Link::close) is only called while
/// a connection is open or being opened.
pub trait Link {
    /// The transport's words for a failure (a `String` on hosts, a
    /// `&'static str` on devices).
    type Detail: From<&'static str> + Clone;

    /// Starts connecting to the configured server `server` (resolving its
    /// name and trying each address is the link's business). Any previous
    /// connection is already closed.
    fn connect(&mut self, server: usize) -> Result<(), Failure<Self::Detail>>;

    /// Moves the attempt forward: `Ok(true)` once the connection is open
    /// (TLS handshake included), `Ok(false)` while in progress.
    fn poll_connect(&mut self) -> Result<bool, Failure<Self::Detail>>;

    /// Writes a prefix of `bytes`; `Ok(0)`: no room now (the driver waits
    /// for [`writable`](Link::writable)).
    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure<Self::Detail>>;

    /// True when a write that took nothing (or part) may now take more.
    fn writable(&mut self) -> Result<bool, Failure<Self::Detail>>;

    /// Hands bytes the link itself buffers (a runtime's stream, TLS) on
    /// towards the network: `Ok(true)` once nothing waits on our side.
    fn flush(&mut self) -> Result<bool, Failure<Self::Detail>>;

    /// Reads what the collector sent, without blocking.
    fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure<Self::Detail>>;

    /// Ends our side for writing after everything written was flushed (TCP
    /// FIN; TLS `close_notify` first): `Ok(true)` once done, `Ok(false)`
    /// while still flushing. The collector is then expected to read to the
    /// end and close its side, seen as [`Received::End`].
    fn shutdown(&mut self) -> Result<bool, Failure<Self::Detail>>;

    /// Bytes of this connection the collector's kernel has acknowledged,
    /// where the OS tells (Linux: bytes written minus `SIOCOUTQ`). `None`:
    /// not known (confirmation then uses the replay limit).
    fn acked(&mut self) -> Option<u64> {
        None
    }

    /// Drops the connection or the attempt, at once.
    fn close(&mut self);
}

/// How the driver reaches the ring: directly (`&mut Ring`), under a lock
/// shared with reporting threads, or in a critical section shared with
/// interrupt handlers. Each call holds access briefly; the driver never
/// does I/O while holding it.
pub trait RingAccess {
    /// The ring's storage.
    type S: Storage;
    /// Runs `f` on the ring; `None` if the ring is busy (re-entered).
    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<Self::S>) -> R) -> Option<R>;

    /// Like [`with`](Self::with), for the driver's last look before it
    /// waits: `f` also says from how many pending (unsent) bytes a new
    /// record is worth waking the driver for (`Some(1)`: it waits for
    /// records; `None`: it wakes by itself; see
    /// [`Sender::wake_at`](crate::Sender::wake_at)). Access shared with
    /// reporting threads records that in the same access, so that a record
    /// added right after wakes the driver. The default just runs `f`.
    fn with_wake<R>(
        &mut self,
        f: impl FnOnce(&mut Ring<Self::S>) -> (R, Option<usize>),
    ) -> Option<R> {
        self.with(|r| f(r).0)
    }
}

impl<S: Storage> RingAccess for &mut Ring<S> {
    type S = S;
    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<S>) -> R) -> Option<R> {
        Some(f(self))
    }
}
