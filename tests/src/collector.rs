//! A loopback NDJSON collector for fault injection: it can stop reading,
//! reset its connections (now, or after every N lines), stay down for a
//! while between connections, die and come back on the same port, or hold
//! a full accept backlog so that connects never complete. Its receive
//! buffer is fixed, so what it can hold unread is known
//! ([`Collector::UNREAD_MAX`]).

use socket2::{Domain, SockRef, Socket, Type};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The collector's kernel receive buffer asked for (Linux doubles it and
/// counts its own overhead in it).
const RCVBUF: usize = 128 * 1024;
/// The collector's own read buffer.
const READ_BUF: usize = 64 * 1024;

/// Faults a collector injects by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Reset (RST, unread data discarded) each connection after this many
    /// lines, this many times in all.
    pub reset_every: Option<(usize, usize)>,
    /// After each such reset, stop listening (connects are refused) until
    /// this long after the reset.
    pub down_for: Option<Duration>,
}

#[derive(Default)]
struct Inner {
    /// Complete lines, per connection, in arrival order.
    conns: Mutex<Vec<Vec<String>>>,
    streams: Mutex<Vec<Option<TcpStream>>>,
    stop: AtomicBool,
    paused: AtomicBool,
    faults: Mutex<Faults>,
    resets_left: AtomicUsize,
    resets: AtomicUsize,
    /// Set by a reading thread: the accept loop goes down for a while.
    go_down: AtomicBool,
    /// When the last reset happened (the collector is back `down_for`
    /// after it).
    reset_at: Mutex<Option<std::time::Instant>>,
}

/// A collector on 127.0.0.1.
pub struct Collector {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

fn listen(addr: SocketAddr) -> TcpListener {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    // Inherited by accepted sockets: the most the kernel holds unread.
    s.set_recv_buffer_size(RCVBUF).unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(128).unwrap();
    let l: TcpListener = s.into();
    l.set_nonblocking(true).unwrap();
    l
}

impl Collector {
    /// The most this collector can hold unread (kernel receive buffer plus
    /// its own read buffer): the `peer_buffer` an SDK may assume of it.
    pub const UNREAD_MAX: usize = 2 * RCVBUF + READ_BUF;

    /// Listens on a free loopback port.
    pub fn start() -> Collector {
        Collector::on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Listens on a free loopback port and injects `faults`.
    pub fn with_faults(faults: Faults) -> Collector {
        let c = Collector::start();
        c.set_faults(faults);
        c
    }

    /// Changes the faults injected from now on.
    pub fn set_faults(&self, faults: Faults) {
        *self.inner.faults.lock().unwrap() = faults;
        self.inner
            .resets_left
            .store(faults.reset_every.map_or(0, |(_, k)| k), Ordering::SeqCst);
    }

    /// Listens on `addr` (to come back on the same port after `kill`).
    pub fn on(addr: SocketAddr) -> Collector {
        Collector::on_with(addr, Vec::new())
    }

    fn on_with(addr: SocketAddr, prior: Vec<Vec<String>>) -> Collector {
        let l = listen(addr);
        let addr = l.local_addr().unwrap();
        let n = prior.len();
        let inner = Arc::new(Inner {
            conns: Mutex::new(prior),
            streams: Mutex::new((0..n).map(|_| None).collect()),
            ..Inner::default()
        });
        let i2 = inner.clone();
        let accept = std::thread::spawn(move || {
            let mut l = Some(l);
            while !i2.stop.load(Ordering::SeqCst) {
                if i2.go_down.swap(false, Ordering::SeqCst) {
                    let down = i2.faults.lock().unwrap().down_for;
                    if let Some(d) = down {
                        drop(l.take());
                        let since = i2.reset_at.lock().unwrap().map(|t| t.elapsed());
                        std::thread::sleep(d.saturating_sub(since.unwrap_or_default()));
                        l = Some(listen(addr));
                    }
                }
                match l.as_ref().unwrap().accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let idx = {
                            let mut c = i2.conns.lock().unwrap();
                            c.push(Vec::new());
                            c.len() - 1
                        };
                        i2.streams
                            .lock()
                            .unwrap()
                            .push(Some(s.try_clone().unwrap()));
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

    /// Resets done by [`Faults::reset_every`] so far.
    pub fn resets(&self) -> usize {
        self.inner.resets.load(Ordering::SeqCst)
    }

    /// Stops (or resumes) reading: the peer's buffers fill up.
    pub fn pause_reading(&self, paused: bool) {
        self.inner.paused.store(paused, Ordering::SeqCst);
    }

    /// Resets every open connection (RST, unread data discarded) and keeps
    /// listening.
    pub fn reset_connections(&self) {
        for s in self.inner.streams.lock().unwrap().iter_mut() {
            if let Some(s) = s.take() {
                abort(&s);
            }
        }
    }

    /// Dies like a killed process, stays down for `down`, and comes back on
    /// the same port; what it had written (its lines) is kept.
    pub fn restart(self, down: Duration) -> Collector {
        let conns = self.connections();
        let addr = self.kill();
        std::thread::sleep(down);
        Collector::on_with(addr, conns)
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

/// Aborts a connection: with linger 0, the last handle closing (the
/// reader thread's, which sees its slot emptied) sends RST, and whatever
/// the kernel held unread is gone.
fn abort(s: &TcpStream) {
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

fn read_conn(inner: Arc<Inner>, s: TcpStream, idx: usize) {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut r = BufReader::with_capacity(READ_BUF, s);
    let mut line = String::new();
    let mut lines = 0;
    loop {
        if inner.stop.load(Ordering::SeqCst) || inner.streams.lock().unwrap()[idx].is_none() {
            // Killed or reset: RST (linger 0 is set), unread data gone.
            let _ = SockRef::from(r.get_ref()).set_linger(Some(Duration::ZERO));
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
                inner.streams.lock().unwrap()[idx] = None;
                return;
            }
            Ok(_) if line.ends_with('\n') => {
                line.pop();
                inner.conns.lock().unwrap()[idx].push(std::mem::take(&mut line));
                lines += 1;
                let every = inner.faults.lock().unwrap().reset_every;
                if let Some((n, _)) = every {
                    if lines >= n && take_one(&inner.resets_left) {
                        // RST now, whatever is unread.
                        inner.resets.fetch_add(1, Ordering::SeqCst);
                        *inner.reset_at.lock().unwrap() = Some(std::time::Instant::now());
                        inner.go_down.store(true, Ordering::SeqCst);
                        let _ = SockRef::from(r.get_ref()).set_linger(Some(Duration::ZERO));
                        inner.streams.lock().unwrap()[idx] = None;
                        return;
                    }
                }
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

fn take_one(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
        .is_ok()
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
