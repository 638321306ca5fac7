//! Newline-delimited JSON over plain TCP (what syslog-ng's `tcp()` source,
//! Logstash's `json_lines` and Vector's `socket` source read): each record
//! is one line and goes as it is. The collector says nothing back, so the
//! link's bytes confirm records: the configured [`Confirm`](crate::Confirm)
//! rule over bytes written or acknowledged, or the collector's end of
//! stream after ours (a clean close).

use super::{Answers, Close, ConfirmedBy, Failed, Frame, Framed, Header, Protocol};
use crate::send::time::Instant;
use core::convert::Infallible;

/// The newline-delimited JSON protocol (no state: no session, no answers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ndjson;

impl Protocol for Ndjson {
    type Error = Infallible;

    #[inline]
    fn confirmed_by(&self) -> ConfirmedBy {
        ConfirmedBy::Bytes
    }

    #[inline]
    fn header_max(&self) -> usize {
        0
    }

    #[inline]
    fn connected(&mut self, _: Instant, _: &mut [u8]) -> Result<usize, Infallible> {
        Ok(0)
    }

    #[inline]
    fn is_open(&self) -> bool {
        true
    }

    #[inline]
    fn has_room(&self) -> bool {
        true
    }

    #[inline]
    fn awaits_answers(&self) -> bool {
        false
    }

    #[inline]
    fn frame(&mut self, _: Instant, _: Frame, _: usize, _: &mut [u8]) -> Option<Header> {
        Some(Header {
            len: 0,
            answer: None,
        })
    }

    /// Records go as they are: a copy of what fits (a record cut at the end
    /// goes on at the next write, the bytes are the same).
    #[inline]
    fn poll_transmit(
        &mut self,
        _: Instant,
        src: &[u8],
        _: u64,
        _: bool,
        _: usize,
        out: &mut [u8],
    ) -> Framed {
        let k = src.len().min(out.len());
        out[..k].copy_from_slice(&src[..k]);
        Framed {
            taken: k,
            written: k,
        }
    }

    #[inline]
    fn handle_input(&mut self, _: Instant, _: &[u8], _: &mut Answers) -> Result<(), Infallible> {
        // Collectors of newline-delimited JSON send nothing we use.
        Ok(())
    }

    #[inline]
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    #[inline]
    fn handle_timeout(&mut self, _: Instant) -> Result<(), Infallible> {
        Ok(())
    }

    #[inline]
    fn poll_close(&mut self, _: Instant, _: bool, _: &mut [u8]) -> Close {
        Close::Nothing
    }

    #[inline]
    fn closed(&self) -> bool {
        false
    }

    #[inline]
    fn lost(&mut self) {}

    #[inline]
    fn failure(&self, e: Infallible, _: Option<usize>) -> Failed {
        match e {}
    }
}
