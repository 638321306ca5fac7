//! One connection to a collector: name lookup, non-blocking connect to
//! each resolved address in turn, optional TLS, vectored resumable writes,
//! and reads that only watch for the peer closing.

use alooma_core::NetError;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// TLS handshake in progress.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Handshaking,
    /// Ready to carry records.
    Open,
    /// We sent our end (TLS close_notify, FIN); waiting for the peer's.
    ShutDown,
}

/// A failure with the OS's own words.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: NetError,
    pub detail: String,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure {
            kind: net_error(&e),
            detail: e.to_string(),
        }
    }
}

pub(crate) struct Conn {
    pub server: usize,
    pub phase: Phase,
    stream: Option<TcpStream>,
    addrs: Vec<SocketAddr>,
    next: usize,
    last_error: Option<Failure>,
    #[cfg(feature = "tls")]
    tls: Option<rustls::ClientConnection>,
    #[cfg(feature = "tls")]
    tls_cfg: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// Records sit in the ring until written; this bounds what TLS may buffer.
#[cfg(feature = "tls")]
const TLS_BUFFER: usize = 256 * 1024;

impl Conn {
    /// Resolves `host:port` (again on every connection) and starts a
    /// non-blocking connect to the first address that takes one.
    pub fn start(
        server: usize,
        host: &str,
        port: u16,
        registry: &Registry,
        #[cfg(feature = "tls")] tls: Option<&(
            std::sync::Arc<rustls::ClientConfig>,
            Option<String>,
        )>,
    ) -> Result<Conn, Failure> {
        let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                return Err(Failure {
                    kind: NetError::NameLookup,
                    detail: e.to_string(),
                })
            }
        };
        if addrs.is_empty() {
            return Err(Failure {
                kind: NetError::NameLookup,
                detail: format!("{host} has no address"),
            });
        }
        #[cfg(feature = "tls")]
        let tls_cfg = match tls {
            Some((cfg, name)) => {
                let name = name.as_deref().unwrap_or(host).to_string();
                let sn = rustls::pki_types::ServerName::try_from(name).map_err(|e| Failure {
                    kind: NetError::Tls,
                    detail: format!("invalid TLS server name: {e}"),
                })?;
                Some((cfg.clone(), sn))
            }
            None => None,
        };
        let mut c = Conn {
            server,
            phase: Phase::Connecting,
            stream: None,
            addrs,
            next: 0,
            last_error: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_cfg,
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
                    registry.register(&mut s, CONN, Interest::READABLE | Interest::WRITABLE)?;
                    self.stream = Some(s);
                    return Ok(());
                }
                Err(e) => self.last_error = Some(Failure::from(e)),
            }
        }
        Err(self.last_error.take().unwrap_or(Failure {
            kind: NetError::Other,
            detail: "no address to try".into(),
        }))
    }

    /// Drives connect and handshake on a readiness event. `Ok(true)` once
    /// the connection is open; an error when every address failed.
    pub fn advance(&mut self, registry: &Registry) -> Result<bool, Failure> {
        // Without TLS there is no handshake phase to loop back to.
        #[cfg_attr(not(feature = "tls"), allow(clippy::never_loop))]
        loop {
            match self.phase {
                Phase::Connecting => {
                    let Some(s) = &self.stream else {
                        return Err(Failure {
                            kind: NetError::Other,
                            detail: "no socket".into(),
                        });
                    };
                    let err = match s.take_error() {
                        Ok(Some(e)) | Err(e) => Some(e),
                        Ok(None) => match s.peer_addr() {
                            Ok(_) => None,
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                            Err(e) => Some(e),
                        },
                    };
                    if let Some(e) = err {
                        self.last_error = Some(Failure::from(e));
                        self.connect_next(registry)?;
                        return Ok(false);
                    }
                    #[cfg(feature = "tls")]
                    if let Some((cfg, name)) = self.tls_cfg.take() {
                        let mut tls =
                            rustls::ClientConnection::new(cfg, name).map_err(|e| Failure {
                                kind: NetError::Tls,
                                detail: e.to_string(),
                            })?;
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
                        self.tls_io()?;
                        let hs = self.tls.as_ref().is_some_and(|t| t.is_handshaking());
                        if hs {
                            return Ok(false);
                        }
                        self.phase = Phase::Open;
                        return Ok(true);
                    }
                    #[cfg(not(feature = "tls"))]
                    return Ok(true);
                }
                Phase::Open | Phase::ShutDown => return Ok(true),
            }
        }
    }

    /// Moves TLS records both ways until the socket would block.
    #[cfg(feature = "tls")]
    fn tls_io(&mut self) -> Result<(), Failure> {
        let (Some(tls), Some(s)) = (self.tls.as_mut(), self.stream.as_mut()) else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls(s) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        loop {
            if !tls.wants_read() {
                break;
            }
            match tls.read_tls(s) {
                Ok(0) => {
                    return Err(Failure {
                        kind: NetError::PeerClosed,
                        detail: "closed during TLS".into(),
                    })
                }
                Ok(_) => {
                    let io = tls.process_new_packets().map_err(|e| Failure {
                        kind: NetError::Tls,
                        detail: e.to_string(),
                    })?;
                    // Discard anything the collector sends us.
                    let mut sink = [0u8; 1024];
                    while let Ok(n) = tls.reader().read(&mut sink) {
                        if n == 0 {
                            break;
                        }
                    }
                    if io.peer_has_closed() {
                        return Err(Failure {
                            kind: NetError::PeerClosed,
                            detail: "TLS close_notify received".into(),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        while tls.wants_write() {
            match tls.write_tls(s) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes from the two slices; returns bytes taken (0 with
    /// `WouldBlock` means try again on writability).
    pub fn write(&mut self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        let s = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_mut() {
            // Flush what TLS holds first, then hand it more plaintext.
            while tls.wants_write() {
                tls.write_tls(s)?;
            }
            let n = tls
                .writer()
                .write_vectored(&[IoSlice::new(first), IoSlice::new(second)])?;
            while tls.wants_write() {
                match tls.write_tls(s) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            return Ok(n);
        }
        s.write_vectored(&[IoSlice::new(first), IoSlice::new(second)])
    }

    /// Reads (and discards) what the peer sent. `Ok(true)`: the peer closed.
    pub fn read(&mut self) -> Result<bool, Failure> {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return match self.tls_io() {
                Ok(()) => Ok(false),
                Err(f) if f.kind == NetError::PeerClosed => Ok(true),
                Err(f) => Err(f),
            };
        }
        let Some(s) = self.stream.as_mut() else {
            return Ok(true);
        };
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends our end: TLS close_notify (a collector needs it to know the
    /// stream ended cleanly), then a TCP FIN.
    pub fn shutdown(&mut self) -> Result<(), Failure> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
            if let Some(s) = self.stream.as_mut() {
                while tls.wants_write() {
                    match tls.write_tls(s) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        if let Some(s) = self.stream.as_ref() {
            s.shutdown(std::net::Shutdown::Write)?;
        }
        self.phase = Phase::ShutDown;
        Ok(())
    }

    /// Bytes TLS still holds that the socket has not taken.
    pub fn pending_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.wants_write();
        }
        false
    }

    /// Pushes buffered TLS bytes out.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let (Some(tls), Some(s)) = (self.tls.as_mut(), self.stream.as_mut()) {
            while tls.wants_write() {
                match tls.write_tls(s) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    pub fn deregister(&mut self, registry: &Registry) {
        if let Some(mut s) = self.stream.take() {
            let _ = registry.deregister(&mut s);
        }
    }
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
