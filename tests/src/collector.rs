//! A loopback NDJSON collector for fault injection: it can stop reading,
//! reset its connections, die and come back on the same port, or hold a
//! full accept backlog so that connects never complete.

use socket2::{Domain, SockRef, Socket, Type};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct Inner {
    /// Complete lines, per connection, in arrival order.
    conns: Mutex<Vec<Vec<String>>>,
    streams: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
    paused: AtomicBool,
}

/// A collector on 127.0.0.1.
pub struct Collector {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl Collector {
    /// Listens on a free loopback port.
    pub fn start() -> Collector {
        Collector::on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Listens on `addr` (to come back on the same port after `kill`).
    pub fn on(addr: SocketAddr) -> Collector {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&addr.into()).unwrap();
        s.listen(128).unwrap();
        let l: TcpListener = s.into();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        let i2 = inner.clone();
        let accept = std::thread::spawn(move || {
            while !i2.stop.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        i2.streams.lock().unwrap().push(s.try_clone().unwrap());
                        let idx = {
                            let mut c = i2.conns.lock().unwrap();
                            c.push(Vec::new());
                            c.len() - 1
                        };
                        let i3 = i2.clone();
                        std::thread::spawn(move || read_conn(i3, s, idx));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Collector {
            addr,
            inner,
            accept: Some(accept),
        }
    }

    /// `host:port` for the SDK.
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    /// Every complete line, all connections, in order.
    pub fn lines(&self) -> Vec<String> {
        self.inner
            .conns
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Lines per connection.
    pub fn connections(&self) -> Vec<Vec<String>> {
        self.inner.conns.lock().unwrap().clone()
    }

    /// Number of complete lines so far.
    pub fn count(&self) -> usize {
        self.inner.conns.lock().unwrap().iter().map(Vec::len).sum()
    }

    /// Stops (or resumes) reading: the peer's buffers fill up.
    pub fn pause_reading(&self, paused: bool) {
        self.inner.paused.store(paused, Ordering::SeqCst);
    }

    /// Resets every open connection (RST, unread data discarded) and keeps
    /// listening.
    pub fn reset_connections(&self) {
        for s in self.inner.streams.lock().unwrap().drain(..) {
            let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Dies like a killed process: connections reset, port closed.
    pub fn kill(mut self) -> SocketAddr {
        self.stop();
        self.addr
    }

    fn stop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        self.reset_connections();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_conn(inner: Arc<Inner>, s: TcpStream, idx: usize) {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut r = BufReader::with_capacity(1 << 16, s);
    let mut line = String::new();
    loop {
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        if inner.paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match r.read_line(&mut line) {
            Ok(0) => {
                // The peer finished: close our side too, as collectors do.
                let _ = r.get_ref().shutdown(std::net::Shutdown::Both);
                return;
            }
            Ok(_) if line.ends_with('\n') => {
                line.pop();
                inner.conns.lock().unwrap()[idx].push(std::mem::take(&mut line));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// A listener whose accept backlog is full: one connection fills it and is
/// never accepted, so the next connect stays pending (loopback only).
pub struct BlackHole {
    pub addr: SocketAddr,
    _listener: Socket,
    _filler: Vec<Socket>,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        l.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        let mut filler = Vec::new();
        // Fill the backlog (its exact depth varies): connect non-blocking
        // until one stays pending.
        for _ in 0..8 {
            let c = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            c.set_nonblocking(true).unwrap();
            let pending = c.connect(&addr.into()).is_err();
            filler.push(c);
            if pending {
                std::thread::sleep(Duration::from_millis(50));
                if filler.last().unwrap().peer_addr().is_err() {
                    break;
                }
            }
        }
        BlackHole {
            addr,
            _listener: l,
            _filler: filler,
        }
    }

    pub fn server(&self) -> String {
        self.addr.to_string()
    }
}
