//! The sender thread: runs the core's driver loop over [`MioLink`] and
//! sleeps in `Poll` when there is nothing to do (no timer, no spinning).

use crate::file::{Store, Syncer};
use crate::link::MioLink;
use crate::shared::{Shared, State};
use alooma_core::{Driver, Instant, Loss, Notification, Out, Ring, RingAccess, SenderConfig};
use mio::{Events, Poll, Token};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// The waker's token.
pub(crate) const WAKER: Token = Token(0);

/// Notifications gathered under the lock, emitted after it.
type Notes = Vec<(Notification, Option<String>)>;

/// The ring as the driver reaches it: under the lock producers also take,
/// held only for the driver's short steps (never during I/O).
struct Locked<'a>(&'a Shared);

impl Locked<'_> {
    fn run<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> R {
        let sh = self.0;
        let mut st: MutexGuard<'_, State> = sh.lock();
        let before = (st.ring.sent_position(), st.ring.confirmed_position());
        let r = f(&mut st);
        let after = (st.ring.sent_position(), st.ring.confirmed_position());
        // Records sent or confirmed: flush and blocked reports may go on.
        if before != after && sh.waiters.load(Ordering::SeqCst) > 0 {
            sh.progress.notify_all();
        }
        r
    }
}

impl RingAccess for Locked<'_> {
    type S = Store;

    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<Store>) -> R) -> Option<R> {
        Some(self.run(|st| f(&mut st.ring)))
    }

    fn with_wake<R>(
        &mut self,
        f: impl FnOnce(&mut Ring<Store>) -> (R, Option<usize>),
    ) -> Option<R> {
        Some(self.run(|st| {
            let (r, wake) = f(&mut st.ring);
            // Reports wake the thread only when it waits for records (or
            // for a batch to fill).
            st.wake_at = wake;
            r
        }))
    }
}

pub(crate) fn run(
    sh: Arc<Shared>,
    mut poll: Poll,
    link: MioLink,
    cfg: SenderConfig,
    seed: u64,
    sync: Option<Syncer>,
) {
    let start = std::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let scratch = vec![0u8; cfg.batch_bytes.clamp(1, 1 << 20)].into_boxed_slice();
    let marker = sh.s().loss_markers.then(|| {
        let sh = sh.clone();
        move |loss: &Loss, out: &mut Out<'_>| {
            // The marker's own stamps: the same bytes each time.
            let stamp = loss.stamp(sh.s().report_time, sh.s().uuid);
            sh.encoder().encode_loss(loss, &stamp, out)
        }
    });
    let wire = sh.s().with_config(|c| c.wire());
    let mut driver = Driver::with_marker(cfg, wire, link, scratch, seed, marker);
    let mut events = Events::with_capacity(16);
    let mut notes: Notes = Vec::new();
    let mut close_asked = false;
    loop {
        {
            let st = sh.lock();
            if st.abort {
                break;
            }
            if st.closing && !close_asked {
                driver.close();
                close_asked = true;
            }
        }
        let wait = driver.poll_clock(now, Locked(&sh));
        while let Some(n) = driver.poll_notification() {
            notes.push(n);
        }
        let exit = {
            let mut st = sh.lock();
            while let Some(n) = st.ring.poll_notification() {
                notes.push((n, None));
            }
            st.sender_stats = driver.stats();
            sh.connected.store(driver.is_connected(), Ordering::Relaxed);
            if driver.is_closed() {
                st.clean = driver.closed_clean();
                st.loss_told = driver.loss_told(&st.ring.stats());
                true
            } else {
                false
            }
        };
        for (n, d) in notes.drain(..) {
            let server = n.server();
            sh.emit(n, server, d);
        }
        if exit {
            break;
        }
        // Sleep until an event or the sender's deadline.
        let timeout = wait.map(|until| {
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
        sh.lock().wake_at = None;
        for ev in events.iter() {
            if ev.token() == crate::conn::CONN {
                driver.link_mut().on_event(ev);
            }
        }
    }
    alooma_core::Link::close(driver.link_mut());
    sh.connected.store(false, Ordering::Relaxed);
    // A buffer file: what the close left (often an empty ring) on disk.
    if let Some(syncer) = &sync {
        let _ = syncer.sync();
    }
    let mut st = sh.lock();
    st.sender_stats = driver.stats();
    st.loss_told = driver.loss_told(&st.ring.stats());
    st.done = true;
    st.wake_at = None;
    sh.progress.notify_all();
}

/// A buffer file's own thread: syncs the file to its disk when its records
/// changed, at most every `every`, so that neither the reporters nor the
/// sender wait for the disk (on the sender's thread a 10 ms sync halved
/// throughput: sending stopped during each one). Between syncs it holds
/// nothing of the SDK (a mapping keeps the file, and so its lock, open);
/// a close unparks it for a last sync and joins it.
pub(crate) fn sync_loop(sh: Weak<Shared>, every: Duration) {
    let mut synced = 0;
    loop {
        std::thread::park_timeout(every);
        let Some(sh) = sh.upgrade() else { return };
        let (gen, syncer) = {
            let st = sh.lock();
            (st.ring.journal_gen(), st.ring.storage().syncer())
        };
        let closed = sh.front.is_closed();
        drop(sh);
        if let (Some(syncer), true) = (syncer, gen != synced) {
            let _ = syncer.sync();
            synced = gen;
        }
        if closed {
            return;
        }
    }
}
