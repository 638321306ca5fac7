//! Protocols: how records are framed on a connection and what the
//! collector's answers confirm. In the spirit of quinn-proto's connection:
//! a [`Protocol`] does no I/O and reads no clock; the
//! [`Driver`](crate::Driver) hands it the collector's bytes
//! ([`handle_input`](Protocol::handle_input)) and the time
//! ([`handle_timeout`](Protocol::handle_timeout)), asks it for frames
//! ([`poll_transmit`](Protocol::poll_transmit)), and carries out the
//! [`Answers`] it yields on the ring.
//!
//! Each protocol is one file: [`ndjson`] (newline-delimited JSON over
//! plain TCP: records go as they are, confirmed by the link's bytes) and
//! [`relp`] (one frame per record, confirmed by the collector's answers).
//! [`Wire`] registers them: adding a protocol is a new file implementing
//! [`Protocol`], a variant of [`Wire`] and of
//! [`Protocol`](crate::Protocol) in the configuration (see README,
//! "Adding a protocol").

use crate::api::notify::{NetError, Notification};
use crate::send::time::Instant;

pub mod ndjson;
pub mod relp;

/// What confirms the records a protocol carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    /// The link's bytes: records go unframed (the bytes written are the
    /// ring's), count as sent when written, and are confirmed by the
    /// configured rule over written or acknowledged bytes
    /// ([`Confirm`](crate::Confirm)).
    Bytes,
    /// The collector's answers: records count as sent once framed, and are
    /// confirmed by the [`Answers`] the protocol yields (and by its
    /// session's close).
    Answers,
}

/// One record or loss marker to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The ring's record with this index (see
    /// [`Ring::sent_record`](crate::Ring::sent_record)).
    Record(u64),
    /// A loss marker (not the ring's).
    Marker,
}

/// A frame's header, as [`Protocol::frame`] wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bytes written before the record.
    pub len: usize,
    /// The id whose answer confirms this frame (see [`Answers::frames`]);
    /// `None`: confirmed by the link's bytes.
    pub answer: Option<u32>,
}

/// What the collector's bytes confirmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answers {
    /// Every record with a ring index up to this one is confirmed.
    pub record: Option<u64>,
    /// Every frame with an answer id up to this one is confirmed (loss
    /// markers' too).
    pub frames: Option<u32>,
}

/// What ending a session takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Nothing to do: no close exchange (or none asked for now).
    Nothing,
    /// Write these bytes (a close frame, put in the caller's buffer), then
    /// wait for its answer.
    Write(usize),
    /// The close frame is out: its answer is awaited.
    Waiting,
    /// The collector answered the close: it confirmed every frame before.
    Done,
}

/// Records framed by [`Protocol::poll_transmit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Framed {
    /// Bytes of the ring's records taken.
    pub taken: usize,
    /// Bytes written into the caller's buffer (frames).
    pub written: usize,
}

/// A protocol failure as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The kind the sender understands.
    pub kind: NetError,
    /// The driver's words for it.
    pub detail: &'static str,
    /// What the user is told, if more than the lost connection.
    pub note: Option<Notification>,
}

/// A wire protocol: framing, and what the collector's answers confirm.
/// Sans I/O: bytes and time go in, frames and confirmations come out.
pub trait Protocol {
    /// Why a session failed (the connection is then dropped, everything
    /// unconfirmed replayed).
    type Error: Copy + core::fmt::Debug;

    /// What confirms this protocol's records.
    fn confirmed_by(&self) -> ConfirmedBy;

    /// The longest header [`frame`](Self::frame) writes (room the driver
    /// keeps before a loss marker).
    fn header_max(&self) -> usize;

    /// A new connection is open: forget any previous session and write
    /// what opens one into `out` (its length; 0 when nothing is needed).
    fn connected(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, Self::Error>;

    /// True when records may go (the session is open).
    fn is_open(&self) -> bool;

    /// True when a frame may be sent now (an answer window with room).
    fn has_room(&self) -> bool;

    /// True while frames sent wait for their answers (which may still
    /// confirm records: the driver tells the final loss totals only after).
    fn awaits_answers(&self) -> bool;

    /// Writes the header for one record or marker of `len` bytes (its
    /// newline included) into `out`: `None` when it may not be sent now
    /// (no room, or `out` too short).
    fn frame(&mut self, now: Instant, frame: Frame, len: usize, out: &mut [u8]) -> Option<Header>;

    /// Frames the ring's records in `src` (ring index `first` starts it;
    /// `whole`: `src` starts at a record, else it continues one framed
    /// before) into `out`, which follows `before` bytes already in the
    /// link's buffer (a loss marker). The default frames one record per
    /// frame with [`frame`](Self::frame), splitting a record only when it
    /// alone does not fit the buffer (its rest follows at the next call,
    /// unframed).
    fn poll_transmit(
        &mut self,
        now: Instant,
        src: &[u8],
        first: u64,
        whole: bool,
        before: usize,
        out: &mut [u8],
    ) -> Framed {
        let cap = out.len();
        let (mut at, mut taken, mut index) = (0, 0, first);
        if !whole {
            // The rest of a record partly framed before.
            let end = crate::buffer::ring::find_nl(src).map_or(src.len(), |i| i + 1);
            let k = end.min(cap);
            out[..k].copy_from_slice(&src[..k]);
            at = k;
            taken = k;
            index += 1;
        }
        let header = self.header_max();
        while taken < src.len() && (whole || taken > 0) && at < cap {
            let rest = &src[taken..];
            let len = crate::buffer::ring::find_nl(rest).map_or(rest.len(), |i| i + 1);
            // A record is split only when it alone does not fit.
            if at + header + 1 > cap || (before + at > 0 && at + header + len > cap) {
                break;
            }
            let Some(h) = self.frame(now, Frame::Record(index), len, &mut out[at..]) else {
                break;
            };
            at += h.len;
            let k = len.min(cap - at);
            out[at..at + k].copy_from_slice(&rest[..k]);
            at += k;
            taken += k;
            index += 1;
            if k < len {
                break;
            }
        }
        Framed { taken, written: at }
    }

    /// Takes the collector's bytes, adding what they confirmed to
    /// `answers`, also when a later part of them is an error: what was
    /// answered before it is confirmed, not replayed.
    fn handle_input(
        &mut self,
        now: Instant,
        bytes: &[u8],
        answers: &mut Answers,
    ) -> Result<(), Self::Error>;

    /// When [`handle_timeout`](Self::handle_timeout) must be called at the
    /// latest (`None`: no deadline).
    fn poll_timeout(&self) -> Option<Instant>;

    /// Time passed: an error when the collector's silence lasted too long.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error>;

    /// Moves a session's end forward: `ending` when the caller ends the
    /// connection; otherwise the protocol may end a session by itself (a
    /// RELP session that used its transaction numbers), after which the
    /// driver connects again. A close frame goes into `out`.
    fn poll_close(&mut self, now: Instant, ending: bool, out: &mut [u8]) -> Close;

    /// True once the collector answered the session's close.
    fn closed(&self) -> bool;

    /// The connection is gone: forget the session.
    fn lost(&mut self);

    /// How `e` is reported.
    fn failure(&self, e: Self::Error, server: Option<usize>) -> Failed;
}

/// The protocols this build carries, chosen by the configuration
/// ([`Config::wire`](crate::Config::wire)): the registration a new protocol
/// adds its variant to.
#[derive(Debug, Clone)]
// One per driver, held in place (no allocator to box it in).
#[allow(clippy::large_enum_variant)]
pub enum Wire {
    /// Newline-delimited JSON over plain TCP.
    Ndjson(ndjson::Ndjson),
    /// RELP (feature `relp`).
    #[cfg(feature = "relp")]
    Relp(relp::Relp),
}

/// Why a session of a [`Wire`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Newline-delimited JSON (never fails by itself).
    Ndjson(core::convert::Infallible),
    /// RELP.
    #[cfg(feature = "relp")]
    Relp(relp::RelpError),
}

/// Calls `$body` with the protocol behind `$wire` bound to `$p`; errors
/// wrapped with `$err` (the variant's `WireError`).
macro_rules! each {
    ($wire:expr, $p:ident => $body:expr) => {
        match $wire {
            Wire::Ndjson($p) => $body,
            #[cfg(feature = "relp")]
            Wire::Relp($p) => $body,
        }
    };
    ($wire:expr, $p:ident => $body:expr, map_err) => {
        match $wire {
            Wire::Ndjson($p) => $body.map_err(WireError::Ndjson),
            #[cfg(feature = "relp")]
            Wire::Relp($p) => $body.map_err(WireError::Relp),
        }
    };
}

impl Protocol for Wire {
    type Error = WireError;

    #[inline]
    fn confirmed_by(&self) -> ConfirmedBy {
        each!(self, p => p.confirmed_by())
    }

    #[inline]
    fn header_max(&self) -> usize {
        each!(self, p => p.header_max())
    }

    #[inline]
    fn connected(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, WireError> {
        each!(self, p => p.connected(now, out), map_err)
    }

    #[inline]
    fn is_open(&self) -> bool {
        each!(self, p => p.is_open())
    }

    #[inline]
    fn has_room(&self) -> bool {
        each!(self, p => p.has_room())
    }

    #[inline]
    fn awaits_answers(&self) -> bool {
        each!(self, p => p.awaits_answers())
    }

    #[inline]
    fn frame(&mut self, now: Instant, frame: Frame, len: usize, out: &mut [u8]) -> Option<Header> {
        each!(self, p => p.frame(now, frame, len, out))
    }

    #[inline]
    fn poll_transmit(
        &mut self,
        now: Instant,
        src: &[u8],
        first: u64,
        whole: bool,
        before: usize,
        out: &mut [u8],
    ) -> Framed {
        each!(self, p => p.poll_transmit(now, src, first, whole, before, out))
    }

    #[inline]
    fn handle_input(
        &mut self,
        now: Instant,
        bytes: &[u8],
        answers: &mut Answers,
    ) -> Result<(), WireError> {
        each!(self, p => p.handle_input(now, bytes, answers), map_err)
    }

    #[inline]
    fn poll_timeout(&self) -> Option<Instant> {
        each!(self, p => p.poll_timeout())
    }

    #[inline]
    fn handle_timeout(&mut self, now: Instant) -> Result<(), WireError> {
        each!(self, p => p.handle_timeout(now), map_err)
    }

    #[inline]
    fn poll_close(&mut self, now: Instant, ending: bool, out: &mut [u8]) -> Close {
        each!(self, p => p.poll_close(now, ending, out))
    }

    #[inline]
    fn closed(&self) -> bool {
        each!(self, p => p.closed())
    }

    #[inline]
    fn lost(&mut self) {
        each!(self, p => p.lost())
    }

    #[inline]
    fn failure(&self, e: WireError, server: Option<usize>) -> Failed {
        let _ = server;
        match (self, e) {
            (_, WireError::Ndjson(e)) => match e {},
            #[cfg(feature = "relp")]
            (Wire::Relp(p), WireError::Relp(e)) => p.failure(e, server),
            #[cfg(feature = "relp")]
            (Wire::Ndjson(_), WireError::Relp(_)) => Failed {
                kind: NetError::Protocol,
                detail: "protocol error",
                note: None,
            },
        }
    }
}
