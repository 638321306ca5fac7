//! The caller's side of `report`, written once for every platform
//! (feature `std`): the closed check, the stamps (`report_time`, `@uuid`,
//! where it was called), the encoding into this thread's scratch buffer,
//! the store through the platform, and refusals counted and told per
//! episode. A platform supplies only what differs: its random seed, its
//! lock and ring ([`Platform::store`]), its way to wake its sender.

use crate::api::error::{EncodeError, ReportError};
use crate::api::notify::{Notice, Rejections};
use crate::api::platform::{Callback, Platform};
use crate::api::settings::Settings;
use crate::send::rng::Rng;
use crate::wire::envelope::Encoder;
use crate::wire::out::Out;
use crate::wire::stamp::Stamp;
use core::cell::{Cell, RefCell};
use core::panic::Location;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::vec::Vec;

/// What every handle of one SDK shares on the callers' side: the settings,
/// the metadata every record carries the same (encoded once), the count of
/// refused events and their episodes, whether it still accepts events.
pub struct Front {
    /// The settings, validated.
    pub s: Settings,
    /// The notification callback.
    pub notify: Option<Callback>,
    fixed: Vec<u8>,
    max_event: usize,
    closed: AtomicBool,
    /// The ring refused a record for room and has stored none since: only
    /// then is [`Platform::refuse_early`] asked (it takes the lock).
    full: AtomicBool,
    rejected: AtomicU64,
    rejections: Rejections,
}

impl core::fmt::Debug for Front {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Front")
            .field("s", &self.s)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Front {
    /// The front of an SDK with validated settings `s`.
    pub fn new(s: Settings, notify: Option<Callback>) -> Self {
        let mut fixed = Vec::new();
        let mut c = Out::counter(usize::MAX);
        let _ = s.encoder().write_fixed(&mut c);
        fixed.resize(c.len(), 0);
        let _ = s.encoder().write_fixed(&mut Out::new(&mut fixed));
        Front {
            max_event: s.max_event(),
            s,
            notify,
            fixed,
            closed: AtomicBool::new(false),
            full: AtomicBool::new(false),
            rejected: AtomicU64::new(0),
            rejections: Rejections::default(),
        }
    }

    /// The encoder of these settings, its fixed metadata encoded once.
    #[inline]
    pub fn encoder(&self) -> Encoder<'_> {
        Encoder {
            fixed: Some(&self.fixed),
            ..self.s.encoder()
        }
    }

    /// The largest record accepted.
    pub fn max_event(&self) -> usize {
        self.max_event
    }

    /// Stops accepting events: every later `report` returns
    /// [`ReportError::Closed`] before it encodes anything.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// For a platform's `store`: whether its ring is refusing records for
    /// room ([`Ring::is_refusing`](crate::Ring::is_refusing)), as of its
    /// last push. Written only when it changes.
    #[inline]
    pub fn set_full(&self, refusing: bool) {
        if self.full.load(Ordering::Relaxed) != refusing {
            self.full.store(refusing, Ordering::Relaxed);
        }
    }

    /// Events refused as invalid or too large so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

std::thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// `@uuid`s come from a fast generator per thread, seeded once from the
    /// platform's random source (a system or host call per event cost more
    /// than encoding the event).
    static RNG: Cell<Option<Rng>> = const { Cell::new(None) };
}

/// 16 random bytes for an `@uuid`, from this thread's generator.
#[inline]
fn uuid_bytes<P: Platform>() -> [u8; 16] {
    RNG.with(|c| {
        let mut r = c.take().unwrap_or_else(|| Rng::new(P::seed()));
        let b = r.bytes16();
        c.set(Some(r));
        b
    })
}

/// Reports one record through platform `p`: `encode` writes it with the
/// SDK's encoder and the record's stamps into `out` and returns its length.
/// `loc` is where `report` was called (`None`: not written). Under
/// drop-newest, an event arriving while the buffer is still full is refused
/// before it is encoded ([`Platform::refuse_early`]).
#[inline]
pub fn report<P, F>(
    p: &P,
    loc: Option<&'static Location<'static>>,
    encode: F,
) -> Result<(), ReportError>
where
    P: Platform,
    F: Fn(&Encoder<'_>, &Stamp, &mut Out<'_>) -> Result<usize, EncodeError>,
{
    let f = p.front();
    if f.is_closed() {
        return Err(ReportError::Closed);
    }
    let time = f.s.report_time.then(P::wall_ms);
    if f.full.load(Ordering::Relaxed) {
        if let Some(e) = p.refuse_early(time) {
            return Err(e);
        }
    }
    let stamp = Stamp {
        time,
        uuid: f.s.uuid.then(uuid_bytes::<P>),
        location: loc,
    };
    let r = encode_record(&f.encoder(), &stamp, f.max_event, &encode, |record| {
        p.store(record, time)
    });
    // Refusals are told per episode, not per event.
    let note = match &r {
        Ok(()) => f.rejections.accepted(|| P::wall_ms().0),
        Err(e) if e.is_invalid_event() => {
            f.rejected.fetch_add(1, Ordering::Relaxed);
            f.rejections.refused(e, P::wall_ms().0)
        }
        Err(_) => None,
    };
    if let Some(n) = note {
        P::emit(
            f.notify.as_ref(),
            &Notice::at(n, None, None, P::wall_clock()),
        );
    }
    r
}

/// Encodes one record into this thread's scratch buffer (at most `max`
/// bytes) and hands it to `store`. The caller's code (a `Serialize` impl,
/// an event-type function) runs here, before the platform takes any lock;
/// one that reports from inside gets a buffer of its own. Too large a
/// record is measured and refused.
pub fn encode_record<F>(
    enc: &Encoder<'_>,
    stamp: &Stamp,
    max: usize,
    encode: &F,
    store: impl FnOnce(&[u8]) -> Result<(), ReportError>,
) -> Result<(), ReportError>
where
    F: Fn(&Encoder<'_>, &Stamp, &mut Out<'_>) -> Result<usize, EncodeError>,
{
    let run = |buf: &mut Vec<u8>| {
        if buf.len() < max {
            buf.resize(max, 0);
        }
        let mut out = Out::new(&mut buf[..max]);
        match encode(enc, stamp, &mut out) {
            Ok(n) => store(&buf[..n]),
            Err(EncodeError::Full) => {
                let mut c = Out::counter(usize::MAX);
                let _ = encode(enc, stamp, &mut c);
                Err(ReportError::TooLarge { size: c.len(), max })
            }
            Err(e) => Err(e.into()),
        }
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => run(&mut buf),
        // Re-entered (a Serialize impl that reports): a buffer of its own.
        Err(_) => run(&mut Vec::new()),
    })
}
