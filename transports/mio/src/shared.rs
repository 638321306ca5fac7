//! What the sender thread and the users' handles share: the settings, the
//! ring and the sender's state under one lock, the waker, the counters.

use crate::notify::{emit, Notification};
use alooma_core::{Encoder, Ring, SenderStats, Settings};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What the sender thread and the handles share.
pub(crate) struct Shared {
    /// The callers' side: settings, refusals, whether it accepts events.
    pub front: alooma_core::Front,
    pub drop_timeout: Duration,
    pub state: Mutex<State>,
    /// Signalled when records were sent or the sender stopped (flush,
    /// blocking reports, close wait on it).
    pub progress: Condvar,
    pub waiters: AtomicUsize,
    pub waker: Arc<mio::Waker>,
    pub connected: AtomicBool,
    pub wakeups: AtomicU64,
}

/// Guarded by [`Shared::state`].
pub(crate) struct State {
    pub ring: Ring<crate::file::Store>,
    /// The sender's counters, as of the thread's last step.
    pub sender_stats: SenderStats,
    /// The sender thread is (about to be) blocked in `poll` waiting for
    /// records (`Some(1)`) or for this many unsent bytes (a batch, while it
    /// lets small writes gather): a record reaching it must wake the thread.
    /// Flush, close and a report waiting for room wake it regardless.
    pub wake_at: Option<usize>,
    pub closing: bool,
    pub abort: bool,
    /// The sender thread has stopped.
    pub done: bool,
    /// The close ended cleanly (everything sent was confirmed).
    pub clean: bool,
    /// The collector has proof of the final loss totals.
    pub loss_told: bool,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something ever did, the
        // state is still consistent (every update is a single step).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for progress (records sent, the sender stopped) at most
    /// `timeout`, counted as a waiter so the sender signals it; `wake`: wake
    /// the sender first (after counting, so its signal cannot be missed).
    pub fn wait_progress<'a>(
        &self,
        st: MutexGuard<'a, State>,
        timeout: Duration,
        wake: bool,
    ) -> MutexGuard<'a, State> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        if wake {
            let _ = self.waker.wake();
        }
        let st = self
            .progress
            .wait_timeout(st, timeout)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        st
    }

    pub fn encoder(&self) -> Encoder<'_> {
        self.front.encoder()
    }

    /// The settings.
    pub fn s(&self) -> &Settings {
        &self.front.s
    }

    pub fn server_name(&self, i: usize) -> Option<String> {
        self.front.s.servers.get(i).cloned()
    }

    pub fn emit(
        &self,
        event: alooma_core::Notification,
        server: Option<usize>,
        detail: Option<String>,
    ) {
        if self.front.notify.is_none() && !cfg!(feature = "tracing") {
            return;
        }
        let n = Notification::new(event, server.and_then(|i| self.server_name(i)), detail);
        emit(self.front.notify.as_ref(), &n);
    }
}
