//! One connection to a collector: non-blocking connect to each resolved
//! address in turn, optional TLS, resumable writes, reads of what the
//! collector sends, our side's end, and the bytes the collector's kernel
//! acknowledged.

use alooma_core::{NetError, Received};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// The connection's token in the sender's `Poll`.
pub(crate) const CONN: Token = Token(1);

/// Maps an OS error to the core's kinds (the text goes in the detail).
pub(crate) fn net_error(e: &io::Error) -> NetError {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => NetError::Refused,
        ConnectionReset | ConnectionAborted | BrokenPipe => NetError::Reset,
        TimedOut => NetError::TimedOut,
        HostUnreachable | NetworkUnreachable | AddrNotAvailable => NetError::Unreachable,
        PermissionDenied => NetError::Denied,
        UnexpectedEof => NetError::PeerClosed,
        _ => NetError::Other,
    }
}

/// A failure with the OS's own words.
pub(crate) type Failure = alooma_core::Failure<String>;

pub(crate) fn failure(kind: NetError, detail: impl Into<String>) -> Failure {
    Failure::new(kind, detail.into())
}

pub(crate) fn io_failure(e: io::Error) -> Failure {
    failure(net_error(&e), e.to_string())
}

#[cfg(feature = "tls")]
fn tls_failure(e: rustls::Error) -> Failure {
    failure(NetError::Tls, e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// TLS handshake in progress.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Handshaking,
    /// Ready to carry records.
    Open,
}

/// TLS settings as the connection needs them.
#[cfg(feature = "tls")]
pub(crate) type TlsStart = (
    std::sync::Arc<rustls::ClientConfig>,
    rustls::pki_types::ServerName<'static>,
);
#[cfg(not(feature = "tls"))]
pub(crate) type TlsStart = std::convert::Infallible;

pub(crate) struct Conn {
    phase: Phase,
    stream: Option<TcpStream>,
    addrs: Vec<SocketAddr>,
    next: usize,
    last_error: Option<Failure>,
    /// Bytes written to the socket (TLS records included).
    sock_written: u64,
    /// Bytes of records handed to the connection (plaintext under TLS).
    plain_written: u64,
    /// Our `close_notify` was queued.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    notify_sent: bool,
    #[cfg(feature = "tls")]
    tls: Option<rustls::ClientConnection>,
    #[cfg(feature = "tls")]
    tls_start: Option<TlsStart>,
}

/// Records sit in the ring until written; this bounds what TLS may buffer.
#[cfg(feature = "tls")]
const TLS_BUFFER: usize = 256 * 1024;

impl Conn {
    /// Starts a non-blocking connect to the first of `addrs` that takes one.
    pub fn start(
        addrs: Vec<SocketAddr>,
        registry: &Registry,
        tls: Option<TlsStart>,
    ) -> Result<Conn, Failure> {
        #[cfg(not(feature = "tls"))]
        let _ = tls;
        let mut c = Conn {
            phase: Phase::Connecting,
            stream: None,
            addrs,
            next: 0,
            last_error: None,
            sock_written: 0,
            plain_written: 0,
            notify_sent: false,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_start: tls,
        };
        c.connect_next(registry)?;
        Ok(c)
    }

    fn connect_next(&mut self, registry: &Registry) -> Result<(), Failure> {
        if let Some(mut s) = self.stream.take() {
            let _ = registry.deregister(&mut s);
        }
        while self.next < self.addrs.len() {
            let addr = self.addrs[self.next];
            self.next += 1;
            match open(addr) {
                Ok(mut s) => {
                    registry
                        .register(&mut s, CONN, Interest::READABLE | Interest::WRITABLE)
                        .map_err(io_failure)?;
                    self.stream = Some(s);
                    return Ok(());
                }
                Err(e) => self.last_error = Some(io_failure(e)),
            }
        }
        Err(self
            .last_error
            .take()
            .unwrap_or_else(|| failure(NetError::Other, "no address to try")))
    }

    fn stream(&mut self) -> Result<&mut TcpStream, Failure> {
        self.stream
            .as_mut()
            .ok_or_else(|| failure(NetError::Other, "no socket"))
    }

    /// Moves connect and handshake forward. `Ok(true)` once the connection
    /// is open; an error when every address failed.
    pub fn advance(&mut self, registry: &Registry) -> Result<bool, Failure> {
        // Without TLS there is no handshake phase to loop back to.
        #[cfg_attr(not(feature = "tls"), allow(clippy::never_loop))]
        loop {
            match self.phase {
                Phase::Connecting => {
                    let s = self.stream()?;
                    let err = match s.take_error() {
                        Ok(Some(e)) | Err(e) => Some(e),
                        Ok(None) => match s.peer_addr() {
                            Ok(_) => None,
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                            Err(e) => Some(e),
                        },
                    };
                    if let Some(e) = err {
                        self.last_error = Some(io_failure(e));
                        self.connect_next(registry)?;
                        return Ok(false);
                    }
                    #[cfg(feature = "tls")]
                    if let Some((cfg, name)) = self.tls_start.take() {
                        let mut tls =
                            rustls::ClientConnection::new(cfg, name).map_err(tls_failure)?;
                        tls.set_buffer_limit(Some(TLS_BUFFER));
                        self.tls = Some(tls);
                        self.phase = Phase::Handshaking;
                        continue;
                    }
                    self.phase = Phase::Open;
                    return Ok(true);
                }
                Phase::Handshaking => {
                    #[cfg(feature = "tls")]
                    {
                        self.tls_push()?;
                        self.tls_pull()?;
                        self.tls_push()?;
                        if self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
                            return Ok(false);
                        }
                    }
                    self.phase = Phase::Open;
                    return Ok(true);
                }
                Phase::Open => return Ok(true),
            }
        }
    }

    /// Writes TLS records to the socket until it would block; `Ok(true)`
    /// when none is left.
    #[cfg(feature = "tls")]
    fn tls_push(&mut self) -> Result<bool, Failure> {
        let (Some(tls), Some(s)) = (self.tls.as_mut(), self.stream.as_mut()) else {
            return Ok(true);
        };
        while tls.wants_write() {
            match tls.write_tls(s) {
                Ok(n) => self.sock_written += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(io_failure(e)),
            }
        }
        Ok(true)
    }

    /// Reads TLS records from the socket until it would block; `Ok(true)`
    /// when the TCP stream ended.
    #[cfg(feature = "tls")]
    fn tls_pull(&mut self) -> Result<bool, Failure> {
        let (Some(tls), Some(s)) = (self.tls.as_mut(), self.stream.as_mut()) else {
            return Ok(false);
        };
        while tls.wants_read() {
            match tls.read_tls(s) {
                Ok(0) => return Ok(true),
                Ok(_) => {
                    tls.process_new_packets().map_err(tls_failure)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_failure(e)),
            }
        }
        Ok(false)
    }

    /// Writes a prefix of `bytes`; `Ok(0)`: no room now.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure> {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            // Flush what TLS holds first, then hand it more plaintext.
            if !self.tls_push()? {
                return Ok(0);
            }
            let tls = self.tls.as_mut().expect("checked above");
            let n = tls.writer().write(bytes).map_err(io_failure)?;
            self.plain_written += n as u64;
            self.tls_push()?;
            return Ok(n);
        }
        let s = self.stream()?;
        match s.write(bytes) {
            Ok(n) => {
                self.sock_written += n as u64;
                self.plain_written += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(io_failure(e)),
        }
    }

    /// Pushes what TLS buffers to the socket; `Ok(true)` when nothing waits.
    pub fn flush(&mut self) -> Result<bool, Failure> {
        #[cfg(feature = "tls")]
        return self.tls_push();
        #[cfg(not(feature = "tls"))]
        Ok(true)
    }

    /// Reads what the collector sent.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure> {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            let tcp_end = self.tls_pull()?;
            // Answers (key updates, alerts) go out at once.
            self.tls_push()?;
            let tls = self.tls.as_mut().expect("checked above");
            return match tls.reader().read(buf) {
                // close_notify received.
                Ok(0) => Ok(Received::End),
                Ok(n) => Ok(Received::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(if tcp_end {
                    Received::End
                } else {
                    Received::Nothing
                }),
                // The TCP stream ended without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Received::End),
                Err(e) => Err(io_failure(e)),
            };
        }
        let s = self.stream()?;
        loop {
            return match s.read(buf) {
                Ok(0) => Ok(Received::End),
                Ok(n) => Ok(Received::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Received::Nothing),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(io_failure(e)),
            };
        }
    }

    /// Ends our side: TLS `close_notify` (a collector needs it to know the
    /// stream ended cleanly), then a TCP FIN. `Ok(false)` while TLS records
    /// still wait for room in the socket.
    pub fn shutdown(&mut self) -> Result<bool, Failure> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_mut() {
            if !self.notify_sent {
                tls.send_close_notify();
                self.notify_sent = true;
            }
            if !self.tls_push()? {
                return Ok(false);
            }
        }
        self.stream()?
            .shutdown(std::net::Shutdown::Write)
            .map_err(io_failure)?;
        Ok(true)
    }

    /// Plaintext bytes of this connection the collector's kernel has
    /// acknowledged, where the OS tells (Linux). Under TLS, counted low: the
    /// TLS overhead written so far (handshake included) is taken off.
    pub fn acked(&self) -> Option<u64> {
        #[cfg(feature = "tls")]
        if self.tls.as_ref().is_some_and(|t| t.wants_write()) {
            // Plaintext waits inside TLS: the overhead is not known yet.
            return None;
        }
        let unacked = unacked_bytes(self.stream.as_ref()?)?;
        let acked = self.sock_written.checked_sub(unacked)?;
        let overhead = self.sock_written.saturating_sub(self.plain_written);
        Some(acked.saturating_sub(overhead))
    }

    pub fn deregister(&mut self, registry: &Registry) {
        if let Some(mut s) = self.stream.take() {
            let _ = registry.deregister(&mut s);
        }
    }
}

/// Bytes written to the socket that its peer has not acknowledged yet:
/// Linux's `SIOCOUTQ` (`write_seq - snd_una`).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn unacked_bytes(s: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: `fd` is an open socket owned by `s` for the whole call, and
    // SIOCOUTQ (= TIOCOUTQ on Linux) writes one `int` through the pointer,
    // which points at `n`, a live, aligned `c_int`.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    (r == 0 && n >= 0).then_some(n as u64)
}

#[cfg(not(target_os = "linux"))]
fn unacked_bytes(_: &TcpStream) -> Option<u64> {
    None
}

/// A non-blocking TCP socket, connecting, with Nagle off (records go out
/// as soon as written) and keepalive on (a dead idle peer is noticed).
fn open(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let ka = socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(30));
    socket2::SockRef::from(&s).set_tcp_keepalive(&ka)?;
    Ok(s)
}
