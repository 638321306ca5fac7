//! The handle a guest holds: `report` only buffers; `poll` moves bytes
//! without blocking; `flush` and `close` block until done or a deadline.

use alooma_core::{
    CloseReport, EncodeError, Encoder, FlushError, Instant, Notice, Notification, Out, ReportError,
    Ring, Rng, Settings, Stamp, Stats, UnixMillis, WhenFull,
};
use alooma_wasi::{now, Driver};
use std::panic::Location;
use std::time::Duration;

/// Hands `n` to the callback; a panicking callback is contained.
/// A notification callback. A guest has one thread: no `Send` needed.
pub(crate) type Callback = Box<dyn Fn(&Notice)>;

pub(crate) fn emit(cb: Option<&Callback>, n: &Notice) {
    if let Some(cb) = cb {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(n)));
    }
}

fn random_u64() -> u64 {
    wasi::random::random::get_random_u64()
}

/// The stamps of a record made now.
/// `@uuid`s come from a fast generator seeded once from `wasi:random`
/// (a host call per event cost more than encoding it).
fn stamp(s: &Settings, rng: &mut Rng, loc: Option<&'static Location<'static>>) -> Stamp {
    Stamp {
        time: s.report_time.then(UnixMillis::now),
        uuid: s.uuid.then(|| rng.bytes16()),
        location: loc,
    }
}

/// The SDK in a Wasm guest. One per instance; keep it in a `thread_local`
/// to reuse its connection across requests of a reused instance. Dropping it
/// closes it, waiting at most the builder's `drop_timeout` to deliver.
pub struct Sdk {
    s: Settings,
    ring: Ring<Box<[u8]>>,
    rng: Rng,
    driver: Driver,
    notify: Option<Callback>,
    max_event: usize,
    rejected: u64,
    drop_timeout: Duration,
    closed: Option<CloseReport>,
}

impl std::fmt::Debug for Sdk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sdk")
            .field("servers", &self.s.servers)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Sdk {
    /// An SDK for validated settings `s` (see
    /// [`Builder::build`](crate::Builder::build)).
    pub(crate) fn start(s: Settings, drop_timeout: Duration, notify: Option<Callback>) -> Sdk {
        let marker: Option<alooma_wasi::BoxMarker> = s.loss_markers.then(|| {
            let s = s.clone();
            let mut rng = Rng::new(random_u64());
            Box::new(move |loss: &alooma_core::Loss, out: &mut Out<'_>| {
                s.encoder()
                    .encode_loss(loss, &stamp(&s, &mut rng, None), out)
            }) as alooma_wasi::BoxMarker
        });
        let max_event = s.max_event();
        let driver = s.with_config(|c| Driver::new(c, random_u64(), marker));
        Sdk {
            ring: Ring::with_storage(vec![0u8; s.buffer_bytes].into_boxed_slice()),
            rng: Rng::new(random_u64()),
            s,
            driver,
            notify,
            max_event,
            rejected: 0,
            drop_timeout,
            closed: None,
        }
    }

    alooma_core::report_methods!(mut);

    fn push<F>(&mut self, loc: &'static Location<'static>, encode: F) -> Result<(), ReportError>
    where
        F: Fn(&Encoder<'_>, &Stamp, &mut Out<'_>) -> Result<usize, EncodeError>,
    {
        if self.closed.is_some() {
            return Err(ReportError::Closed);
        }
        let stamp = stamp(&self.s, &mut self.rng, Some(loc));
        if let Some(t) = stamp.time {
            self.ring.set_clock(t.0);
        }
        let max = self.max_event;
        let deadline = match self.s.when_full {
            WhenFull::Block => None,
            WhenFull::BlockFor(d) => Some(now() + d),
            WhenFull::DropNewest | WhenFull::DropOldest => {
                let drop_oldest = self.s.when_full == WhenFull::DropOldest;
                let enc = self.s.encoder();
                let r = self
                    .ring
                    .push_with(drop_oldest, max, |out| encode(&enc, &stamp, out));
                return self.pushed(r);
            }
        };
        // Blocking policies: nobody else will make room, so drive the
        // connection until the record fits or the deadline passes.
        loop {
            let enc = self.s.encoder();
            let r = self
                .ring
                .try_push_with(max, |out| encode(&enc, &stamp, out));
            match r {
                Err(ReportError::BufferFull { .. }) => {}
                r => return self.pushed(r),
            }
            let t = now();
            if deadline.is_some_and(|d| t >= d) {
                self.ring.count_refusal();
                self.drain_notes();
                return Err(ReportError::Timeout);
            }
            let next = self.driver.poll(t, &mut self.ring);
            self.drain_notes();
            if self.driver.is_closed() {
                return Err(ReportError::Closed);
            }
            let until = [next, deadline, Some(t + Duration::from_secs(1))]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(t);
            self.driver.wait(until);
        }
    }

    fn pushed(&mut self, r: Result<alooma_core::Pushed, ReportError>) -> Result<(), ReportError> {
        match &r {
            Ok(p) if p.dropped_oldest + p.discarded > 0 => self.note(
                Notification::EventsDropped {
                    count: p.dropped_oldest,
                    unconfirmed: p.discarded,
                },
                None,
            ),
            Err(e) if e.is_invalid_event() => {
                self.rejected += 1;
                self.note(Notification::EventRejected(e.clone()), None);
            }
            _ => {}
        }
        self.drain_notes();
        r.map(|_| ())
    }

    fn note(&self, n: Notification, detail: Option<String>) {
        if self.notify.is_none() {
            return;
        }
        let server = match n {
            Notification::Connecting { server }
            | Notification::Connected { server }
            | Notification::ConnectFailed { server, .. }
            | Notification::Disconnected { server, .. }
            | Notification::SendFailed { server, .. }
            | Notification::CloseUnconfirmed { server, .. }
            | Notification::RelpFailed { server, .. }
            | Notification::TlsFailed { server } => self.s.servers.get(server).cloned(),
            _ => None,
        };
        emit(self.notify.as_ref(), &Notice::new(n, server, detail));
    }

    fn drain_notes(&mut self) {
        while let Some(n) = self.ring.poll_notification() {
            self.note(n, None);
        }
        while let Some((n, d)) = self.driver.poll_notification() {
            self.note(n, d);
        }
    }

    /// Does all the I/O possible now without blocking: connects, writes,
    /// reconnects, and lets the runtime move pending writes. Call it often
    /// (between events, in an event loop). Returns how long until it has
    /// timed work to do (a reconnect, a linger), if any.
    pub fn poll(&mut self) -> Option<Duration> {
        let t = now();
        let next = self.driver.poll(t, &mut self.ring);
        self.drain_notes();
        next.map(|n| n.saturating_since(t))
    }

    /// Sends everything buffered and waits until the runtime has handed it
    /// to the OS (with RELP: until the collector acknowledged it), or
    /// `timeout` passes. In an edge function, call it after
    /// the response is finished (`OutgoingBody::finish`), with what is left
    /// of the request's time budget.
    pub fn flush(&mut self, timeout: Duration) -> Result<(), FlushError> {
        if self.closed.is_some() {
            return Err(FlushError::Closed);
        }
        let deadline = now() + timeout;
        if self.drive(deadline, |d, r| d.is_flushed(r)) {
            Ok(())
        } else {
            Err(FlushError::Timeout {
                unsent: self.ring.unsent_records() as u64,
            })
        }
    }

    /// Polls and waits until `done` or `deadline`; returns `done`.
    fn drive(&mut self, deadline: Instant, done: fn(&Driver, &Ring<Box<[u8]>>) -> bool) -> bool {
        loop {
            let t = now();
            let next = self.driver.poll(t, &mut self.ring);
            self.drain_notes();
            if done(&self.driver, &self.ring) {
                return true;
            }
            if t >= deadline {
                return false;
            }
            self.driver.wait(next.map_or(deadline, |n| n.min(deadline)));
        }
    }

    /// Stops accepting events, delivers what is buffered, closes the
    /// connection cleanly, waiting at most `timeout`. Says exactly what was
    /// delivered and what not. Later calls return the same report.
    pub fn close(&mut self, timeout: Duration) -> CloseReport {
        if let Some(r) = self.closed {
            return r;
        }
        self.driver.close();
        let deadline = now() + timeout;
        self.drive(deadline, |d, _| d.is_closed());
        let clean = self.driver.closed_clean();
        let r = CloseReport::new(self.ring.stats(), self.rejected, clean);
        self.closed = Some(r);
        r
    }

    /// Counters. `wakeups` counts polls that found work.
    pub fn stats(&self) -> Stats {
        Stats::new(
            self.ring.stats(),
            self.driver.stats(),
            self.rejected,
            self.driver.busy_polls(),
        )
    }

    /// True while connected to a collector.
    pub fn is_connected(&self) -> bool {
        self.driver.is_connected()
    }

    /// The configured servers.
    pub fn servers(&self) -> &[String] {
        &self.s.servers
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        let t = self.drop_timeout;
        self.close(t);
    }
}
