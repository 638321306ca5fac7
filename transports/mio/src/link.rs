//! mio sockets as the core's [`Link`]: names resolved on a helper thread
//! (a slow resolver never holds the sender, so connect timeouts, `flush`
//! and `close` deadlines hold), then [`Conn`] for connect, TLS and I/O.

use crate::conn::{failure, Conn, Failure, TlsStart};
use alooma_core::{parse_server, Link, NetError, Received};
use mio::event::Event;
use mio::{Registry, Waker};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

#[cfg(feature = "tls")]
pub(crate) type TlsConfig = Option<(Arc<rustls::ClientConfig>, Option<String>)>;
#[cfg(not(feature = "tls"))]
pub(crate) type TlsConfig = Option<std::convert::Infallible>;

type LookupSlot = Arc<Mutex<Option<Result<Vec<SocketAddr>, Failure>>>>;

enum State {
    Idle,
    /// A helper thread resolves the name and fills the slot.
    Resolving {
        host: String,
        slot: LookupSlot,
    },
    Open(Box<Conn>),
}

/// The native transport's link.
pub(crate) struct MioLink {
    registry: Registry,
    waker: Arc<Waker>,
    servers: Vec<String>,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    tls: TlsConfig,
    state: State,
    /// The socket may take bytes (set by writable events, cleared when a
    /// write takes nothing).
    writable: bool,
}

impl MioLink {
    pub fn new(
        registry: Registry,
        waker: Arc<Waker>,
        servers: Vec<String>,
        tls: TlsConfig,
    ) -> Self {
        MioLink {
            registry,
            waker,
            servers,
            tls,
            state: State::Idle,
            writable: false,
        }
    }

    /// A readiness event for the connection.
    pub fn on_event(&mut self, ev: &Event) {
        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
            self.writable = true;
        }
    }

    fn conn(&mut self) -> Result<&mut Conn, Failure> {
        match &mut self.state {
            State::Open(c) => Ok(c),
            _ => Err(failure(NetError::Other, "no connection")),
        }
    }

    #[cfg(feature = "tls")]
    fn tls_start(&self, host: &str) -> Result<Option<TlsStart>, Failure> {
        match &self.tls {
            Some((cfg, name)) => {
                let name = name.as_deref().unwrap_or(host).to_string();
                let sn = rustls::pki_types::ServerName::try_from(name)
                    .map_err(|e| failure(NetError::Tls, format!("invalid TLS server name: {e}")))?;
                Ok(Some((cfg.clone(), sn)))
            }
            None => Ok(None),
        }
    }

    #[cfg(not(feature = "tls"))]
    fn tls_start(&self, _host: &str) -> Result<Option<TlsStart>, Failure> {
        Ok(None)
    }

    fn open(&mut self, host: &str, addrs: Vec<SocketAddr>) -> Result<(), Failure> {
        if addrs.is_empty() {
            return Err(failure(
                NetError::NameLookup,
                format!("{host} has no address"),
            ));
        }
        let tls = self.tls_start(host)?;
        let c = Conn::start(addrs, &self.registry, tls)?;
        self.writable = false;
        self.state = State::Open(Box::new(c));
        Ok(())
    }
}

impl Link for MioLink {
    type Detail = String;

    fn connect(&mut self, server: usize) -> Result<(), Failure> {
        let server = self.servers.get(server).cloned().unwrap_or_default();
        let a = parse_server(&server).map_err(|e| failure(NetError::NameLookup, e.to_string()))?;
        if let Ok(ip) = a.host.parse::<IpAddr>() {
            return self.open(a.host, vec![SocketAddr::new(ip, a.port)]);
        }
        // Names are resolved again on every connection, off this thread.
        let slot: LookupSlot = Arc::default();
        let (host, port) = (a.host.to_string(), a.port);
        let (s2, h2, waker) = (slot.clone(), host.clone(), self.waker.clone());
        std::thread::Builder::new()
            .name("alooma-resolve".into())
            .spawn(move || {
                let r = (h2.as_str(), port)
                    .to_socket_addrs()
                    .map(|a| a.collect())
                    .map_err(|e| failure(NetError::NameLookup, e.to_string()));
                *s2.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                let _ = waker.wake();
            })
            .map_err(|e| failure(NetError::Other, format!("cannot start a resolver: {e}")))?;
        self.state = State::Resolving { host, slot };
        Ok(())
    }

    fn poll_connect(&mut self) -> Result<bool, Failure> {
        match &mut self.state {
            State::Idle => Err(failure(NetError::Other, "no connection")),
            State::Resolving { host, slot } => {
                let r = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                match r {
                    None => Ok(false),
                    Some(Err(f)) => Err(f),
                    Some(Ok(addrs)) => {
                        let host = std::mem::take(host);
                        self.open(&host, addrs)?;
                        self.poll_connect()
                    }
                }
            }
            State::Open(c) => c.advance(&self.registry),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure> {
        let n = self.conn()?.write(bytes)?;
        if n == 0 && !bytes.is_empty() {
            self.writable = false;
        }
        Ok(n)
    }

    fn writable(&mut self) -> Result<bool, Failure> {
        Ok(self.writable)
    }

    fn flush(&mut self) -> Result<bool, Failure> {
        self.conn()?.flush()
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure> {
        self.conn()?.read(buf)
    }

    fn shutdown(&mut self) -> Result<bool, Failure> {
        self.conn()?.shutdown()
    }

    fn acked(&mut self) -> Option<u64> {
        self.conn().ok()?.acked()
    }

    fn close(&mut self) {
        if let State::Open(c) = &mut self.state {
            c.deregister(&self.registry);
        }
        // A lookup still running finishes into a slot nobody reads.
        self.state = State::Idle;
        self.writable = false;
    }
}
