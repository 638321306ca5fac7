//! The sender thread: carries out the core state machine's actions on mio
//! and sleeps in `Poll` when there is nothing to do (no timer, no spinning).

use crate::conn::{Conn, Failure, Phase, CONN};
use crate::sdk::Shared;
use alooma_core::{parse_server, Action, Instant, NetError, Notification};
use mio::{Events, Poll, Token};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The waker's token.
pub(crate) const WAKER: Token = Token(0);

#[cfg(feature = "tls")]
pub(crate) type TlsConfig = Option<(Arc<rustls::ClientConfig>, Option<String>)>;
#[cfg(not(feature = "tls"))]
pub(crate) type TlsConfig = Option<std::convert::Infallible>;

/// What to do outside the lock.
enum Todo {
    Write,
    Connect(usize),
    Abort,
    Shutdown,
}

/// Notifications gathered under the lock, emitted after it.
type Notes = Vec<(Notification, Option<usize>, Option<String>)>;

pub(crate) fn run(sh: Arc<Shared>, mut poll: Poll, tls: TlsConfig) {
    let start = std::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut events = Events::with_capacity(16);
    let mut conn: Option<Conn> = None;
    let mut notes: Notes = Vec::new();
    let mut detail: Option<String> = None;
    let mut close_asked = false;
    let mut out: Vec<u8> = Vec::with_capacity(sh.s.batch_bytes.min(1 << 20));
    let _ = &tls;
    loop {
        let t = now();
        let mut todo = None;
        let mut wait = None;
        let mut exit = false;
        {
            let mut st = sh.lock();
            if st.abort {
                exit = true;
            } else {
                if st.closing && !close_asked {
                    st.sender.close();
                    close_asked = true;
                }
                loop {
                    let st = &mut *st;
                    match st.sender.poll(t, &st.ring) {
                        Action::Transmit { max } => {
                            if conn.as_ref().is_none_or(|c| c.phase != Phase::Open) {
                                st.sender.on_closed(t, Some(NetError::Other), &mut st.ring);
                                continue;
                            }
                            // Copy the batch out and write it without the
                            // lock: producers keep reporting meanwhile (the
                            // ring keeps in-flight bytes in place).
                            let tx = st.ring.transmit(max);
                            out.clear();
                            out.extend_from_slice(tx.first);
                            out.extend_from_slice(tx.second);
                            todo = Some(Todo::Write);
                            break;
                        }
                        Action::Wait { until } => {
                            wait = Some(until);
                            break;
                        }
                        Action::Connect { server } => {
                            todo = Some(Todo::Connect(server));
                            break;
                        }
                        Action::Abort { .. } => {
                            todo = Some(Todo::Abort);
                            break;
                        }
                        Action::Shutdown => {
                            todo = Some(Todo::Shutdown);
                            break;
                        }
                    }
                }
                collect(&mut st, &mut notes, &mut detail);
                if st.sender.is_closed() {
                    exit = true;
                }
                if exit && sh.waiters.load(Ordering::SeqCst) > 0 {
                    sh.progress.notify_all();
                }
                sh.connected
                    .store(st.sender.is_connected(), Ordering::Relaxed);
                // Reports wake the thread only when it waits for records.
                if todo.is_none() && !exit && st.sender.awaits_records(&st.ring) {
                    st.sleeping = true;
                }
            }
            if exit {
                st.done = true;
                st.sleeping = false;
                sh.progress.notify_all();
            }
        }
        emit(&sh, &mut notes);
        if exit {
            if let Some(mut c) = conn.take() {
                c.deregister(poll.registry());
            }
            sh.connected.store(false, Ordering::Relaxed);
            return;
        }
        match todo {
            Some(Todo::Write) => {
                let r = match conn.as_mut() {
                    Some(c) => c.write(&out, &[]),
                    None => Err(io::ErrorKind::NotConnected.into()),
                };
                let t = now();
                let mut st = sh.lock();
                let st = &mut *st;
                match r {
                    Ok(n) => {
                        st.sender.on_sent(t, n, &mut st.ring);
                        if n > 0 && sh.waiters.load(Ordering::SeqCst) > 0 {
                            sh.progress.notify_all();
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        st.sender.on_blocked(t, 0, &mut st.ring)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => st.ring.cancel_transmit(),
                    Err(e) => {
                        let f = Failure::from(e);
                        detail = Some(f.detail);
                        st.sender.on_closed(t, Some(f.kind), &mut st.ring);
                        if let Some(mut c) = conn.take() {
                            c.deregister(poll.registry());
                        }
                        collect(st, &mut notes, &mut detail);
                    }
                }
                continue;
            }
            Some(Todo::Connect(server)) => {
                if let Some(mut c) = conn.take() {
                    c.deregister(poll.registry());
                }
                let r = match parse_server(&sh.s.servers[server]) {
                    Ok(a) => Conn::start(
                        server,
                        a.host,
                        a.port,
                        poll.registry(),
                        #[cfg(feature = "tls")]
                        tls.as_ref(),
                    ),
                    Err(e) => Err(Failure {
                        kind: NetError::NameLookup,
                        detail: e.to_string(),
                    }),
                };
                match r {
                    Ok(c) => conn = Some(c),
                    Err(f) => fail_connect(&sh, now(), f, &mut notes),
                }
                emit(&sh, &mut notes);
                continue;
            }
            Some(Todo::Abort) => {
                if let Some(mut c) = conn.take() {
                    c.deregister(poll.registry());
                }
                continue;
            }
            Some(Todo::Shutdown) => {
                let r = conn.as_mut().map(|c| c.shutdown());
                if let Some(Err(f)) = r {
                    let mut st = sh.lock();
                    let st = &mut *st;
                    st.sender.on_closed(now(), Some(f.kind), &mut st.ring);
                    detail = Some(f.detail);
                    conn = None;
                } else if conn.is_none() {
                    let mut st = sh.lock();
                    let st = &mut *st;
                    st.sender.on_closed(now(), None, &mut st.ring);
                }
                continue;
            }
            None => {}
        }
        // Sleep until an event or the sender's deadline.
        let timeout = wait.flatten().map(|until| {
            let us = until.as_micros().saturating_sub(now().as_micros());
            // Round up so we never wake a hair early and spin.
            Duration::from_micros(us) + Duration::from_micros(if us > 0 { 100 } else { 0 })
        });
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                // Poll itself failed: nothing sensible to do but retry soon.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        sh.wakeups.fetch_add(1, Ordering::Relaxed);
        sh.lock().sleeping = false;
        for ev in events.iter() {
            if ev.token() != CONN {
                continue;
            }
            let Some(c) = conn.as_mut() else { continue };
            let t = now();
            let mut st = sh.lock();
            let st = &mut *st;
            match c.phase {
                Phase::Connecting | Phase::Handshaking => match c.advance(poll.registry()) {
                    Ok(true) => st.sender.on_connected(t),
                    Ok(false) => {}
                    Err(f) => {
                        if f.kind == NetError::Tls {
                            notes.push((
                                Notification::TlsFailed { server: c.server },
                                Some(c.server),
                                Some(f.detail.clone()),
                            ));
                        }
                        detail = Some(f.detail);
                        st.sender.on_connect_failed(t, f.kind);
                        c.deregister(poll.registry());
                        conn = None;
                    }
                },
                Phase::Open | Phase::ShutDown => {
                    let mut lost = None;
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        match c.read() {
                            Ok(false) => {}
                            Ok(true) => {
                                lost = Some(if c.phase == Phase::ShutDown {
                                    None
                                } else {
                                    Some(NetError::PeerClosed)
                                })
                            }
                            Err(f) => {
                                detail = Some(f.detail);
                                lost = Some(Some(f.kind));
                            }
                        }
                    }
                    if lost.is_none() && ev.is_writable() {
                        if c.pending_tls() {
                            if let Err(e) = c.flush_tls() {
                                let f = Failure::from(e);
                                detail = Some(f.detail);
                                lost = Some(Some(f.kind));
                            }
                        }
                        st.sender.on_writable();
                    }
                    if let Some(how) = lost {
                        st.sender.on_closed(t, how, &mut st.ring);
                        c.deregister(poll.registry());
                        conn = None;
                    }
                }
            }
            collect(st, &mut notes, &mut detail);
        }
        emit(&sh, &mut notes);
    }
}

fn fail_connect(sh: &Shared, t: Instant, f: Failure, notes: &mut Notes) {
    let mut st = sh.lock();
    let mut detail = Some(f.detail);
    st.sender.on_connect_failed(t, f.kind);
    collect(&mut st, notes, &mut detail);
}

/// Moves the core's notifications out (to emit after the lock). The OS
/// error text goes with the first failure it explains.
fn collect(st: &mut crate::sdk::State, notes: &mut Notes, detail: &mut Option<String>) {
    while let Some(n) = st.sender.poll_notification() {
        let server = match &n {
            Notification::Connecting { server }
            | Notification::Connected { server }
            | Notification::ConnectFailed { server, .. }
            | Notification::Disconnected { server, .. }
            | Notification::SendFailed { server, .. }
            | Notification::TlsFailed { server } => Some(*server),
            _ => None,
        };
        let d = match &n {
            Notification::ConnectFailed { .. }
            | Notification::Disconnected { .. }
            | Notification::SendFailed { .. } => detail.take(),
            _ => None,
        };
        notes.push((n, server, d));
    }
    while let Some(n) = st.ring.poll_notification() {
        notes.push((n, None, None));
    }
}

fn emit(sh: &Shared, notes: &mut Notes) {
    for (n, server, d) in notes.drain(..) {
        sh.emit(n, server, d);
    }
}
