//! The Wasm platform under [`Sdk`](crate::Sdk): a guest has no threads,
//! so `report` only buffers (or, under a blocking full-buffer policy, sends
//! until the record fits); `poll` moves bytes without blocking; `flush` and
//! `close` block until done or a deadline. The caller's code (a
//! `Serialize`, an event-type function, the notification callback) never
//! runs under the SDK's lock, so it may report again.

use alooma_core::{
    CloseReport, ConfigError, FlushError, Front, Instant, Notice, Notification, Out, Parts,
    Platform, Polled, ReportError, Ring, Settings, Stats, UnixMillis, WhenFull,
};
use alooma_wasi::{now, Driver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Default `replay_limit` in a guest: 12 MiB. A guest cannot see what the
/// collector's kernel acknowledged, so a record counts as delivered only
/// once this many bytes were written after it on the same connection: more
/// than Linux's largest send buffer (4 MiB) plus a collector's receive
/// buffer (6 MiB) plus what the runtime itself buffers.
pub const DEFAULT_REPLAY_LIMIT: usize = 12 << 20;

/// Default buffer in a guest: 32 MiB, so that the replay window (at most
/// `replay_limit`) leaves well over half for new events. Linear memory is
/// touched only as records fill it.
pub const DEFAULT_BUFFER_BYTES: usize = 32 << 20;

/// Why [`Builder::build`](crate::Builder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration has problems (all of them are listed).
    #[error(transparent)]
    Config(Box<ConfigError>),
}

impl From<Box<ConfigError>> for BuildError {
    fn from(e: Box<ConfigError>) -> Self {
        BuildError::Config(e)
    }
}

fn random_u64() -> u64 {
    wasi::random::random::get_random_u64()
}

/// The Wasm platform: the ring and the connection, shared by every clone of
/// the [`Sdk`](crate::Sdk). Dropping the last clone closes it, waiting at
/// most the builder's `drop_timeout` to deliver.
#[derive(Clone)]
pub struct Guest {
    inner: Arc<Inner>,
}

struct Inner {
    /// The callers' side; once closed, nothing more is accepted (read
    /// before encoding, so a closed SDK answers `Closed` first).
    front: Front,
    drop_timeout: Duration,
    state: Mutex<State>,
}

struct State {
    ring: Ring<Box<[u8]>>,
    driver: Driver,
    closed: Option<CloseReport>,
}

/// Notifications gathered under the lock, handed out after it.
type Notes = Vec<(Notification, Option<String>)>;

impl State {
    fn take_notes(&mut self, notes: &mut Notes) {
        while let Some(n) = self.ring.poll_notification() {
            notes.push((n, None));
        }
        while let Some(n) = self.driver.poll_notification() {
            notes.push(n);
        }
    }
}

/// What one step of a blocking `report` found.
enum Step {
    Done(Result<(), ReportError>),
    Wait(Instant),
}

impl Inner {
    #[inline(never)]
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing of the caller's runs under the lock; if something of ours
        // ever panicked there, every update is a single step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the lock, then hands out what it notified.
    fn run<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.lock();
        let r = f(&mut st);
        self.leave(st);
        r
    }

    /// The end of every `run` (one copy, not one per caller: a guest's size
    /// counts): the notifications gathered under the lock, the lock
    /// released, the notifications handed to the callback.
    #[inline(never)]
    fn leave(&self, mut st: MutexGuard<'_, State>) {
        let mut notes = Notes::new();
        st.take_notes(&mut notes);
        drop(st);
        for (n, d) in notes {
            self.note(n, d);
        }
    }

    fn note(&self, n: Notification, detail: Option<String>) {
        let f = &self.front;
        if f.notify.is_none() {
            return;
        }
        let server = n.server().and_then(|i| f.s.servers.get(i).cloned());
        Guest::emit(
            f.notify.as_ref(),
            &Notice::at(n, server, detail, Guest::wall_clock()),
        );
    }

    /// Stores an encoded record under the full-buffer policy. The blocking
    /// policies drive the connection until the record fits or the deadline
    /// passes: nobody else will make room.
    fn store(&self, record: &[u8], time: Option<UnixMillis>) -> Result<(), ReportError> {
        let when_full = self.front.s.when_full;
        let deadline = match when_full {
            WhenFull::BlockFor(d) => Some(now() + d),
            _ => None,
        };
        loop {
            let step = self.run(|st| {
                if self.front.is_closed() {
                    return Step::Done(Err(ReportError::Closed));
                }
                if let Some(t) = time {
                    st.ring.set_clock(t.0);
                }
                if let WhenFull::DropNewest | WhenFull::DropOldest = when_full {
                    // Losses are told per episode (the ring's notifications).
                    let r = st.ring.push(record, when_full == WhenFull::DropOldest);
                    self.front.set_full(st.ring.is_refusing());
                    return Step::Done(r.map(|_| ()));
                }
                match st.ring.try_push(record) {
                    Err(ReportError::BufferFull { .. }) => {}
                    r => return Step::Done(r.map(|_| ())),
                }
                let t = now();
                if deadline.is_some_and(|d| t >= d) {
                    st.ring.count_refusal();
                    return Step::Done(Err(ReportError::Timeout));
                }
                let next = st.driver.poll(t, &mut st.ring);
                if st.driver.is_closed() {
                    return Step::Done(Err(ReportError::Closed));
                }
                let until = [next, deadline, Some(t + Duration::from_secs(1))]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(t);
                Step::Wait(until)
            });
            match step {
                Step::Done(r) => return r,
                Step::Wait(until) => self.run(|st| st.driver.wait(until)),
            }
        }
    }

    /// Polls and waits until `done` or `deadline`; returns `done`.
    fn drive(&self, deadline: Instant, done: fn(&Driver, &Ring<Box<[u8]>>) -> bool) -> bool {
        loop {
            let (finished, next, t) = self.run(|st| {
                let t = now();
                let next = st.driver.poll(t, &mut st.ring);
                (done(&st.driver, &st.ring), next, t)
            });
            if finished {
                return true;
            }
            if t >= deadline {
                return false;
            }
            let until = next.map_or(deadline, |n| n.min(deadline));
            self.run(|st| st.driver.wait(until));
        }
    }

    fn close(&self, timeout: Duration) -> CloseReport {
        let done = self.run(|st| {
            self.front.close();
            if st.closed.is_none() {
                st.driver.close();
            }
            st.closed
        });
        if let Some(r) = done {
            return r;
        }
        self.drive(now() + timeout, |d, _| d.is_closed());
        self.run(|st| {
            // A close from a callback during this one may have finished first.
            if let Some(r) = st.closed {
                return r;
            }
            let clean = st.driver.closed_clean();
            let ring = st.ring.stats();
            let told = st.driver.loss_told(&ring);
            let r = CloseReport::new(ring, self.front.rejected(), clean, told);
            st.closed = Some(r);
            r
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let t = self.drop_timeout;
        self.close(t);
    }
}

impl Platform for Guest {
    type Extra = ();
    type BuildError = BuildError;

    fn defaults() -> Settings {
        Settings {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            replay_limit: DEFAULT_REPLAY_LIMIT,
            ..Settings::default()
        }
    }

    fn start(parts: Parts<Self>) -> Result<Self, BuildError> {
        let s = parts.settings;
        let marker: Option<alooma_wasi::BoxMarker> = s.loss_markers.then(|| {
            // What a marker's encoding reads, not a copy of every setting.
            let (token, label) = (s.token.clone(), s.input_label.clone());
            let (envelope, time, uuid) = (s.envelope, s.report_time, s.uuid);
            Box::new(move |loss: &alooma_core::Loss, out: &mut Out<'_>| {
                let enc = alooma_core::Encoder {
                    envelope,
                    token: &token,
                    input_label: &label,
                    // (`encode_loss` writes the marker's own type.)
                    event_type: alooma_core::EventType::InputLabel,
                    fixed: None,
                };
                // The marker's own stamps: the same bytes each time.
                enc.encode_loss(loss, &loss.stamp(time, uuid), out)
            }) as alooma_wasi::BoxMarker
        });
        let driver = s.with_config(|c| Driver::new(c, random_u64(), marker));
        let state = State {
            ring: Ring::with_storage(vec![0u8; s.buffer_bytes].into_boxed_slice()),
            driver,
            closed: None,
        };
        Ok(Guest {
            inner: Arc::new(Inner {
                front: Front::new(s, parts.notify),
                drop_timeout: parts.drop_timeout,
                state: Mutex::new(state),
            }),
        })
    }

    fn front(&self) -> &Front {
        &self.inner.front
    }

    fn seed() -> u64 {
        random_u64()
    }

    fn wall_clock() -> std::time::SystemTime {
        // `wasi:clocks/wall-clock` read directly (std's `SystemTime::now`
        // links io::Error's Debug text: 14 KB); never panics.
        let t = wasi::clocks::wall_clock::now();
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        epoch
            .checked_add(Duration::from_secs(t.seconds))
            .and_then(|s| s.checked_add(Duration::from_nanos(u64::from(t.nanoseconds))))
            .unwrap_or(epoch)
    }

    fn wall_ms() -> UnixMillis {
        // The same clock, without `SystemTime` in between.
        let t = wasi::clocks::wall_clock::now();
        UnixMillis(
            t.seconds
                .saturating_mul(1000)
                .saturating_add(u64::from(t.nanoseconds / 1_000_000)),
        )
    }

    fn store(&self, record: &[u8], time: Option<UnixMillis>) -> Result<(), ReportError> {
        self.inner.store(record, time)
    }

    fn refuse_early(&self, time: Option<UnixMillis>) -> Option<ReportError> {
        let i = &*self.inner;
        if i.front.s.when_full != WhenFull::DropNewest {
            return None;
        }
        i.run(|st| {
            if let Some(t) = time {
                st.ring.set_clock(t.0);
            }
            st.ring
                .refuse_while_full()
                .map(|size| ReportError::BufferFull { size })
        })
    }

    fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let i = &*self.inner;
        if i.front.is_closed() {
            return Err(FlushError::Closed);
        }
        if i.drive(now() + timeout, |d, r| d.is_flushed(r)) {
            Ok(())
        } else {
            Err(FlushError::Timeout {
                unsent: i.run(|st| st.ring.unsent_records() as u64),
            })
        }
    }

    fn close(&self, timeout: Duration) -> CloseReport {
        self.inner.close(timeout)
    }

    fn stats(&self) -> Stats {
        self.inner.run(|st| {
            Stats::new(
                st.ring.stats(),
                st.driver.stats(),
                self.inner.front.rejected(),
                st.driver.busy_polls(),
            )
        })
    }

    fn is_connected(&self) -> bool {
        self.inner.run(|st| st.driver.is_connected())
    }
}

impl Polled for Guest {
    fn poll(&self) -> Option<Duration> {
        self.inner.run(|st| {
            let t = now();
            let next = st.driver.poll(t, &mut st.ring);
            next.map(|n| n.saturating_since(t))
        })
    }
}
