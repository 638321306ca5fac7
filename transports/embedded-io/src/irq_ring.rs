//! A ring shared between interrupt handlers and the main loop.

use alooma_core::{
    Config, EncodeError, Out, Pushed, ReportError, Ring, RingAccess, Storage, WhenFull,
};
use core::cell::RefCell;
use critical_section::Mutex;

/// A `static` ring that interrupt handlers report into. Guarded by a
/// critical section (provide one: `cortex-m`'s `critical-section-single-core`
/// on single-core MCUs). [`push`](Self::push) applies the configuration's
/// full-buffer policy and record size; records being written to the
/// connection are never dropped from under the driver (it copies them out
/// inside the critical section, and the ring keeps them whole).
pub struct IrqRing<const N: usize> {
    ring: Mutex<RefCell<Ring<[u8; N]>>>,
}

impl<const N: usize> Default for IrqRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> IrqRing<N> {
    /// An empty ring of `N` bytes, for a `static`.
    pub const fn new() -> Self {
        IrqRing {
            ring: Mutex::new(RefCell::new(Ring::new())),
        }
    }

    /// Encodes and stores one record as `config` says (its
    /// [`when_full`](Config::when_full) and largest record for this ring:
    /// see [`Config::push`]); callable from interrupt handlers. An interrupt
    /// cannot wait: `Block` and `BlockFor` refuse the new record here, as
    /// `DropNewest` does (counted).
    pub fn push<F>(&self, config: &Config<'_>, mut encode: F) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        self.push_dyn(config, &mut encode)
    }

    /// [`push`](Self::push), one copy for every event type (flash).
    fn push_dyn(&self, config: &Config<'_>, encode: Encode<'_>) -> Result<Pushed, ReportError> {
        critical_section::with(|cs| match self.ring.borrow(cs).try_borrow_mut() {
            Ok(mut r) => push_as(&mut r, config, encode),
            // Only reachable by reporting from inside `with`: refuse.
            Err(_) => Err(ReportError::BufferFull { size: 0 }),
        })
    }

    /// Encodes and stores one record of at most `max` bytes, dropping the
    /// new one when full (see [`Ring::push_with`]); callable from interrupt
    /// handlers. [`push`](Self::push) takes both from the configuration.
    pub fn push_with<F>(&self, max: usize, mut encode: F) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        let encode: Encode<'_> = &mut encode;
        critical_section::with(|cs| match self.ring.borrow(cs).try_borrow_mut() {
            Ok(mut r) => r.push_with(false, max, encode),
            // Only reachable by reporting from inside `with`: refuse.
            Err(_) => Err(ReportError::BufferFull { size: 0 }),
        })
    }

    /// Runs `f` on the ring inside a critical section.
    pub fn with<R>(&self, f: impl FnOnce(&mut Ring<[u8; N]>) -> R) -> Option<R> {
        critical_section::with(|cs| {
            self.ring
                .borrow(cs)
                .try_borrow_mut()
                .ok()
                .map(|mut r| f(&mut r))
        })
    }
}

impl<const N: usize> RingAccess for &IrqRing<N> {
    type S = [u8; N];
    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<[u8; N]>) -> R) -> Option<R> {
        IrqRing::with(self, f)
    }
}

/// Stores one record into `r` as `config` says; an interrupt cannot wait,
/// so `Block` and `BlockFor` refuse as `DropNewest` does.
/// An event's encoder, called through `dyn`: the ring's code is not
/// repeated for each event type.
type Encode<'e> = &'e mut dyn FnMut(&mut Out<'_>) -> Result<usize, EncodeError>;

fn push_as<S: Storage>(
    r: &mut Ring<S>,
    config: &Config<'_>,
    encode: Encode<'_>,
) -> Result<Pushed, ReportError> {
    match config.when_full {
        WhenFull::Block | WhenFull::BlockFor(_) => {
            r.push_with(false, config.max_event(r.capacity()), encode)
        }
        _ => config.push(r, encode),
    }
}

/// A `static` slot for a ring made at start, over storage the firmware
/// provides: a durable ring in RAM the runtime does not zero (cortex-m-rt's
/// `.uninit`), found again after a warm reset with
/// [`Ring::recover`](alooma_core::Ring::recover) (at a cold boot,
/// [`Ring::format`](alooma_core::Ring::format)) and then
/// [`install`](Self::install)ed. Interrupt-safe like [`IrqRing`]; before a
/// ring is installed every report is refused (counted nowhere: there is no
/// ring yet) and the driver finds nothing to send.
pub struct IrqSlot<S> {
    ring: Mutex<RefCell<Option<Ring<S>>>>,
}

impl<S> Default for IrqSlot<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> IrqSlot<S> {
    /// An empty slot, for a `static`.
    pub const fn new() -> Self {
        IrqSlot {
            ring: Mutex::new(RefCell::new(None)),
        }
    }
}

impl<S: Storage> IrqSlot<S> {
    /// Puts `ring` in the slot (once, at start); returns the ring it held,
    /// if any.
    pub fn install(&self, ring: Ring<S>) -> Option<Ring<S>> {
        critical_section::with(|cs| match self.ring.borrow(cs).try_borrow_mut() {
            Ok(mut r) => r.replace(ring),
            Err(_) => Some(ring),
        })
    }

    /// Encodes and stores one record as `config` says (see
    /// [`IrqRing::push`]); callable from interrupt handlers and from a
    /// panic handler (a report from inside [`with`](Self::with), or before
    /// a ring is installed, is refused).
    pub fn push<F>(&self, config: &Config<'_>, mut encode: F) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        self.push_dyn(config, &mut encode)
    }

    /// [`push`](Self::push), one copy for every event type (flash).
    fn push_dyn(&self, config: &Config<'_>, encode: Encode<'_>) -> Result<Pushed, ReportError> {
        critical_section::with(|cs| match self.ring.borrow(cs).try_borrow_mut() {
            Ok(mut r) => match r.as_mut() {
                Some(r) => push_as(r, config, encode),
                None => Err(ReportError::BufferFull { size: 0 }),
            },
            Err(_) => Err(ReportError::BufferFull { size: 0 }),
        })
    }

    /// Runs `f` on the installed ring inside a critical section (`None`:
    /// none installed, or called from inside `with`).
    pub fn with<R>(&self, f: impl FnOnce(&mut Ring<S>) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let mut r = self.ring.borrow(cs).try_borrow_mut().ok()?;
            r.as_mut().map(f)
        })
    }
}

impl<S: Storage> RingAccess for &IrqSlot<S> {
    type S = S;
    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<S>) -> R) -> Option<R> {
        IrqSlot::with(self, f)
    }
}
