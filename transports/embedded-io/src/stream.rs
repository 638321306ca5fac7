//! What the driver needs from the user's network: a way to connect, and a
//! byte stream to write to.

use alooma_core::{NetError, ServerAddr};
use embedded_io::{ErrorKind, Read, ReadReady, Write};

/// What the peer did, as far as the stream can tell without blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Nothing known: the connection is (as far as we know) open.
    Open,
    /// The peer sent this many bytes, now at the start of the buffer (RELP
    /// replies; a plain TCP collector sends nothing).
    Data(usize),
    /// The peer closed its side cleanly (end of stream, a TCP FIN).
    Ended,
    /// The connection failed (reset, aborted): not a clean end.
    Failed(ErrorKind),
}

/// A connected byte stream. `write` may take fewer bytes than offered; the
/// driver resumes where it stopped.
///
/// A close is clean (every record sent is confirmed) only when the stream
/// can end its writing side ([`close_write`](Stream::close_write), a TCP
/// FIN) and then see the collector close its side cleanly
/// ([`peer_state`](Stream::peer_state) says [`PeerState::Ended`], never for a
/// reset). With the defaults it cannot: a close then ends after the connect
/// timeout with the last records counted unconfirmed.
///
/// RELP ([`Protocol::Relp`](alooma_core::Protocol::Relp)) needs the
/// collector's replies: a stream for it must read
/// ([`peer_state`](Stream::peer_state) returning [`PeerState::Data`]), as
/// [`ReadEof`] does. Without them no record is ever acknowledged.
pub trait Stream: Write {
    /// What the peer did (checked without blocking): bytes it sent (read
    /// into `buf`), its end of stream, or a failure. The default never
    /// knows; see [`ReadEof`].
    fn peer_state(&mut self, buf: &mut [u8]) -> PeerState {
        let _ = buf;
        PeerState::Open
    }

    /// Ends the writing side (a TCP FIN), so that the collector reads to
    /// the end and closes its side. The default does nothing.
    fn close_write(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Opens streams to collectors: the user's TCP stack, modem or UART.
pub trait Connector {
    /// The stream a connection gives.
    type Stream: Stream;
    /// Connects to `server` (name resolution included). Called again for
    /// every reconnection.
    fn connect(&mut self, server: ServerAddr<'_>) -> Result<Self::Stream, NetError>;
}

/// Adapts a stream that can also read: what the peer sends (RELP
/// replies), the peer closing (a read of 0 bytes when data is ready) or
/// failing (a read error) are seen without blocking.
pub struct ReadEof<T>(pub T);

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for ReadEof<T> {
    type Error = T::Error;
}

impl<T: Write> Write for ReadEof<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

impl<T: Write + Read + ReadReady> Stream for ReadEof<T> {
    fn peer_state(&mut self, buf: &mut [u8]) -> PeerState {
        use embedded_io::Error as _;
        match self.0.read_ready() {
            Ok(true) => match self.0.read(buf) {
                Ok(0) => PeerState::Ended,
                Ok(n) => PeerState::Data(n),
                Err(e) => PeerState::Failed(e.kind()),
            },
            Ok(false) => PeerState::Open,
            Err(e) => PeerState::Failed(e.kind()),
        }
    }
}

/// Maps an `embedded-io` error kind to the core's.
pub fn net_error(kind: ErrorKind) -> NetError {
    match kind {
        ErrorKind::ConnectionRefused => NetError::Refused,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            NetError::Reset
        }
        ErrorKind::NotConnected | ErrorKind::WriteZero => NetError::PeerClosed,
        ErrorKind::TimedOut => NetError::TimedOut,
        ErrorKind::PermissionDenied => NetError::Denied,
        _ => NetError::Other,
    }
}
