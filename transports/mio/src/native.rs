//! The native platform under [`Sdk`](crate::Sdk): a sender thread
//! per SDK. `report` encodes on the caller's thread and copies the record
//! into the ring under a short lock (never blocks unless asked to, never
//! does I/O); `flush` and `close` wait for the thread.

use crate::driver;
use crate::file::Store;
use crate::link::TlsConfig;
use crate::notify::Notification;
use crate::random::seed;
use crate::shared::{Shared, State};
use alooma_core::{
    Callback, CloseReport, ConfigError, FlushError, Parts, Platform, ReportError, Ring, SeesAcks,
    SenderStats, Settings, Stats, UnixMillis, WhenFull,
};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default buffer of the native SDK: 24 MiB, so that the replay window
/// (`peer_buffer` plus what the collector's kernel has not acknowledged yet,
/// at most Linux's 4 MiB send buffer; measured under sustained load on
/// loopback: 7 to 10 MiB, see README) leaves well over half for new events.
pub const DEFAULT_BUFFER_BYTES: usize = 24 << 20;

/// Default `replay_limit` of the native SDK, used where the OS does not tell
/// acknowledged bytes (not Linux): 12 MiB, more than Linux's largest send
/// buffer (4 MiB) plus a collector's receive buffer (6 MiB).
pub const DEFAULT_REPLAY_LIMIT: usize = 12 << 20;

/// Why [`Builder::build`](crate::Builder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration has problems (all of them are listed).
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// The OS refused what the sender thread needs (poll, waker, thread).
    #[error("cannot start the sender: {0}")]
    Io(#[from] std::io::Error),
    /// The buffer file cannot be used (in use by another process, of
    /// another format version, or refused by the OS).
    #[error(transparent)]
    BufferFile(#[from] crate::file::FileError),
}

impl From<Box<ConfigError>> for BuildError {
    fn from(e: Box<ConfigError>) -> Self {
        BuildError::Config(e)
    }
}

/// Default `sync_every` of a buffer file.
pub const DEFAULT_SYNC_EVERY: Duration = Duration::from_millis(100);

/// The native SDK's own settings, held by its builder.
pub struct Extra {
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Tls>,
    buffer_file: Option<std::path::PathBuf>,
    sync_every: Option<Duration>,
}

impl Default for Extra {
    fn default() -> Self {
        Extra {
            #[cfg(feature = "tls")]
            tls: None,
            buffer_file: None,
            sync_every: Some(DEFAULT_SYNC_EVERY),
        }
    }
}

impl alooma_core::WithFile for Native {
    fn set_buffer_file(extra: &mut Extra, path: std::path::PathBuf) {
        extra.buffer_file = Some(path);
    }
    fn set_sync_every(extra: &mut Extra, every: Option<Duration>) {
        extra.sync_every = every;
    }
}

struct Handle {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// A buffer file's syncing thread.
    sync_thread: Mutex<Option<JoinHandle<()>>>,
    report: Mutex<Option<CloseReport>>,
}

impl Handle {
    fn close(&self, timeout: Duration) -> CloseReport {
        let r = close(&self.shared, &self.thread, &self.report, timeout);
        // Its last sync, then the file is this SDK's no more.
        if let Some(t) = self
            .sync_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.thread().unpark();
            let _ = t.join();
        }
        r
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let t = self.shared.drop_timeout;
        self.close(t);
    }
}

/// The native platform: a sender thread, shared by every clone of the
/// [`Sdk`](crate::Sdk) (cheap to clone, `Send + Sync`). Dropping the last
/// clone closes it, waiting at most the builder's `drop_timeout` to deliver.
#[derive(Clone)]
pub struct Native {
    h: Arc<Handle>,
}

impl SeesAcks for Native {}

#[cfg(feature = "tls")]
impl alooma_core::WithTls for Native {
    type Tls = crate::tls::Tls;
    fn set_tls(extra: &mut Extra, tls: crate::tls::Tls) {
        extra.tls = Some(tls);
    }
}

impl Platform for Native {
    type Extra = Extra;
    type BuildError = BuildError;

    fn defaults() -> Settings {
        Settings {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            replay_limit: DEFAULT_REPLAY_LIMIT,
            peer_buffer: cfg!(target_os = "linux").then_some(alooma_core::DEFAULT_PEER_BUFFER),
            ..Settings::default()
        }
    }

    fn start(parts: Parts<Self>) -> Result<Self, BuildError> {
        #[cfg(feature = "tls")]
        let tls = match &parts.extra.tls {
            Some(t) => Some(t.client_config()?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls = None;
        let ring = match &parts.extra.buffer_file {
            Some(path) => crate::file::open(path, parts.settings.buffer_bytes)?.0,
            None => Ring::with_storage(Store::Heap(
                vec![0u8; parts.settings.buffer_bytes].into_boxed_slice(),
            )),
        };
        // A buffer file synced every `sync_every`.
        let sync = parts
            .extra
            .sync_every
            .filter(|_| ring.storage().syncer().is_some());
        Ok(Native::spawn(
            parts.settings,
            parts.drop_timeout,
            parts.notify,
            tls,
            ring,
            sync,
        )?)
    }

    fn emit(cb: Option<&Callback>, n: &Notification) {
        crate::notify::emit(cb, n);
    }

    fn front(&self) -> &alooma_core::Front {
        &self.h.shared.front
    }

    fn seed() -> u64 {
        seed()
    }

    #[cfg(target_os = "linux")]
    #[inline]
    fn wall_ms() -> UnixMillis {
        wall_ms()
    }

    fn store(&self, record: &[u8], time: Option<UnixMillis>) -> Result<(), ReportError> {
        self.store_record(record, time)
    }

    fn refuse_early(&self, time: Option<UnixMillis>) -> Option<ReportError> {
        let sh = &*self.h.shared;
        if sh.s().when_full != WhenFull::DropNewest {
            return None;
        }
        let mut st = sh.lock();
        if let Some(t) = time {
            st.ring.set_clock(t.0);
        }
        let size = st.ring.refuse_while_full()?;
        // Told per episode: at most the episode's first refusal notifies.
        let note = st.ring.poll_notification();
        drop(st);
        if let Some(n) = note {
            sh.emit(n, None, None);
        }
        Some(ReportError::BufferFull { size })
    }

    fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let sh = &*self.h.shared;
        let deadline = Instant::now() + timeout;
        // The sender may be waiting out a linger time: have it look again.
        let _ = sh.waker.wake();
        let mut st = sh.lock();
        loop {
            let unsent = st.ring.unsent_records() as u64;
            // With RELP the collector answers without more traffic: wait
            // for its acknowledgements too.
            let relp = sh.s().protocol == alooma_core::Protocol::Relp;
            if unsent == 0 && st.ring.in_flight() == 0 && (!relp || st.ring.window_records() == 0) {
                return Ok(());
            }
            if st.done {
                return Err(FlushError::Closed);
            }
            let Some(left) = time_left(deadline) else {
                return Err(FlushError::Timeout { unsent });
            };
            if st.wake_at.take().is_some() {
                let _ = sh.waker.wake();
            }
            st = sh.wait_progress(st, left, false);
        }
    }

    fn close(&self, timeout: Duration) -> CloseReport {
        self.h.close(timeout)
    }

    fn stats(&self) -> Stats {
        let sh = &*self.h.shared;
        let st = sh.lock();
        Stats::new(
            st.ring.stats(),
            st.sender_stats,
            sh.front.rejected(),
            sh.wakeups.load(Ordering::Relaxed),
        )
    }

    fn is_connected(&self) -> bool {
        self.h.shared.connected.load(Ordering::Relaxed)
    }
}

impl Native {
    /// Starts the sender thread for validated settings `s`.
    fn spawn(
        s: Settings,
        drop_timeout: Duration,
        notify: Option<Callback>,
        tls: TlsConfig,
        ring: Ring<Store>,
        sync: Option<Duration>,
    ) -> std::io::Result<Native> {
        let sender_cfg = s.with_config(|c| c.sender());
        let ring_syncer = ring.storage().syncer();
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), driver::WAKER)?);
        let link = crate::link::MioLink::new(
            poll.registry().try_clone()?,
            waker.clone(),
            s.servers.clone(),
            tls,
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                ring,
                sender_stats: SenderStats::default(),
                wake_at: None,
                closing: false,
                abort: false,
                done: false,
                clean: false,
                loss_told: false,
            }),
            front: alooma_core::Front::new(s, notify),
            drop_timeout,
            progress: Condvar::new(),
            waiters: AtomicUsize::new(0),
            waker,
            connected: AtomicBool::new(false),
            wakeups: AtomicU64::new(0),
        });
        let sync_thread = match sync {
            Some(every) => {
                let sh = Arc::downgrade(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("alooma-sync".into())
                        .spawn(move || driver::sync_loop(sh, every))?,
                )
            }
            None => None,
        };
        let sh = shared.clone();
        let syncer = ring_syncer.clone();
        let thread = std::thread::Builder::new()
            .name("alooma-sender".into())
            .spawn(move || driver::run(sh, poll, link, sender_cfg, seed(), syncer))?;
        Ok(Native {
            h: Arc::new(Handle {
                shared,
                thread: Mutex::new(Some(thread)),
                sync_thread: Mutex::new(sync_thread),
                report: Mutex::new(None),
            }),
        })
    }

    fn store_record(&self, record: &[u8], time: Option<UnixMillis>) -> Result<(), ReportError> {
        let sh = &*self.h.shared;
        let when_full = sh.s().when_full;
        let drop_oldest = when_full == WhenFull::DropOldest;
        let deadline = match when_full {
            WhenFull::BlockFor(d) => Some(Instant::now() + d),
            _ => None,
        };
        let blocking = matches!(when_full, WhenFull::Block | WhenFull::BlockFor(_));
        let mut notes: heapless::Vec<alooma_core::Notification, 4> = heapless::Vec::new();
        let mut st = sh.lock();
        if let Some(t) = time {
            st.ring.set_clock(t.0);
        }
        let result = loop {
            if st.closing || st.done {
                break Err(ReportError::Closed);
            }
            // A blocking report retries uncounted; only giving up counts.
            let r = if blocking {
                st.ring.try_push(record)
            } else {
                st.ring.push(record, drop_oldest)
            };
            match r {
                // Losses are told per episode (the ring's notifications).
                Ok(_) => break Ok(()),
                Err(ReportError::BufferFull { .. }) if blocking => {
                    let timeout = match deadline {
                        Some(d) => match time_left(d) {
                            Some(t) => t,
                            None => {
                                st.ring.count_refusal();
                                break Err(ReportError::Timeout);
                            }
                        },
                        None => Duration::from_secs(3600),
                    };
                    st = sh.wait_progress(st, timeout, true);
                }
                Err(e) => break Err(e),
            }
        };
        while let Some(n) = st.ring.poll_notification() {
            if notes.push(n).is_err() {
                break;
            }
        }
        if let (Ok(()), Some(at)) = (&result, st.wake_at) {
            if st.ring.pending_bytes() >= at {
                st.wake_at = None;
                let _ = sh.waker.wake();
            }
        }
        sh.front.set_full(st.ring.is_refusing());
        drop(st);
        if !notes.is_empty() {
            for n in notes {
                sh.emit(n, None, None);
            }
        }
        result
    }
}

fn close(
    sh: &Arc<Shared>,
    thread: &Mutex<Option<JoinHandle<()>>>,
    report: &Mutex<Option<CloseReport>>,
    timeout: Duration,
) -> CloseReport {
    let mut rep = report.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = *rep {
        return r;
    }
    let deadline = Instant::now() + timeout;
    sh.front.close();
    {
        let mut st = sh.lock();
        st.closing = true;
        st.wake_at = None;
        let _ = sh.waker.wake();
        sh.waiters.fetch_add(1, Ordering::SeqCst);
        while !st.done {
            let left = match time_left(deadline) {
                Some(t) => t,
                None => {
                    // Out of time: stop the thread where it is.
                    st.abort = true;
                    let _ = sh.waker.wake();
                    break;
                }
            };
            st = sh
                .progress
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        sh.waiters.fetch_sub(1, Ordering::SeqCst);
    }
    let finished = sh.lock().done;
    if let Some(t) = thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // Join only a thread that finished; one still busy (a slow name
        // lookup, say) sees `abort` and exits by itself.
        if finished {
            let _ = t.join();
        }
    }
    let st = sh.lock();
    let out = CloseReport::new(
        st.ring.stats(),
        sh.front.rejected(),
        st.done && st.clean,
        st.loss_told,
    );
    *rep = Some(out);
    out
}

/// Time until `deadline`, or `None` once it has passed.
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|t| !t.is_zero())
}

/// The wall clock in Unix milliseconds, read with `clock_gettime` (the
/// vDSO: no system call) without `SystemTime`'s checked arithmetic around
/// it: about 60 fewer instructions per `report` (callgrind); 0 before 1970,
/// as `UnixMillis::from_system`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[inline]
fn wall_ms() -> UnixMillis {
    // SAFETY: `timespec` is plain integers (and, on the 32-bit targets
    // with 64-bit time, private integer padding), for which all-zero bytes
    // are a valid value; `ts` is then a live, aligned `timespec` that
    // `clock_gettime` writes through the pointer during the call and no
    // longer after. `r` says whether it did (CLOCK_REALTIME always exists
    // on Linux).
    let (r, ts) = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        (libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts), ts)
    };
    if r != 0 || ts.tv_sec < 0 {
        return UnixMillis(0);
    }
    UnixMillis(ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn wall_ms_reads_the_same_clock_as_system_time() {
        for _ in 0..1000 {
            let before = UnixMillis::from_system(std::time::SystemTime::now());
            let t = wall_ms();
            let after = UnixMillis::from_system(std::time::SystemTime::now());
            assert!(before <= t && t <= after, "{before:?} {t:?} {after:?}");
        }
    }
}
