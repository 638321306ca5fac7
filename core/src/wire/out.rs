//! A bounded output cursor: writes into a caller slice, or only counts.
//!
//! Every encoder in this crate writes through [`Out`], so "the record does not
//! fit" is one error ([`Full`]) and nothing is ever written past the limit.

/// The output was about to pass its limit; nothing past the limit was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A write cursor over a byte slice (or a counter when there is no slice).
#[derive(Debug)]
pub struct Out<'a> {
    buf: Option<&'a mut [u8]>,
    len: usize,
    limit: usize,
    slack: usize,
}

impl<'a> Out<'a> {
    /// Writes into `buf`, at most `buf.len()` bytes.
    pub fn new(buf: &'a mut [u8]) -> Self {
        let limit = buf.len();
        Out {
            buf: Some(buf),
            len: 0,
            limit,
            slack: 0,
        }
    }

    /// Counts bytes without storing them, failing past `limit`.
    pub fn counter(limit: usize) -> Self {
        Out {
            buf: None,
            len: 0,
            limit,
            slack: 0,
        }
    }

    /// Bytes written (or counted) so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when this cursor only counts.
    #[inline]
    pub fn is_counter(&self) -> bool {
        self.buf.is_none()
    }

    /// Extra bytes a counter could not determine exactly (an upper bound on
    /// what a later real write may add, for example an event type read back
    /// from the event).
    #[inline]
    pub fn slack(&self) -> usize {
        self.slack
    }

    pub(crate) fn add_slack(&mut self, n: usize) {
        self.slack += n;
    }

    /// The bytes written so far (empty for a counter).
    #[inline]
    pub fn written(&self) -> &[u8] {
        match &self.buf {
            Some(b) => &b[..self.len],
            None => &[],
        }
    }

    /// Appends `bytes`, or fails without writing anything.
    #[inline]
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len + bytes.len();
        if end > self.limit {
            return Err(Full);
        }
        if let Some(buf) = &mut self.buf {
            copy(&mut buf[self.len..end], bytes);
        }
        self.len = end;
        Ok(())
    }

    /// Appends one byte.
    #[inline]
    pub fn push_byte(&mut self, b: u8) -> Result<(), Full> {
        if self.len >= self.limit {
            return Err(Full);
        }
        if let Some(buf) = &mut self.buf {
            buf[self.len] = b;
        }
        self.len += 1;
        Ok(())
    }

    /// Appends a copy of bytes already written (`range` within
    /// [`written`](Self::written)), or fails without writing anything.
    pub(crate) fn push_within(&mut self, range: core::ops::Range<usize>) -> Result<(), Full> {
        let n = range.end.saturating_sub(range.start);
        let end = self.len + n;
        if end > self.limit || range.end > self.len || range.start > range.end {
            return Err(Full);
        }
        if let Some(buf) = &mut self.buf {
            move_bytes(buf, range, self.len);
        }
        self.len = end;
        Ok(())
    }

    /// Forgets everything written after `len` bytes.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
        }
    }

    /// The last byte written, if any (never for a counter).
    #[inline]
    pub fn last(&self) -> Option<u8> {
        self.written().last().copied()
    }

    /// Inserts `bytes` at `at` (at most [`len`](Self::len)), shifting what
    /// follows to the right.
    pub(crate) fn insert_at(&mut self, at: usize, bytes: &[u8]) -> Result<(), Full> {
        let n = bytes.len();
        let end = self.len + n;
        if end > self.limit || at > self.len {
            return Err(Full);
        }
        if let Some(buf) = &mut self.buf {
            move_bytes(buf, at..self.len, at + n);
            buf[at..at + n].copy_from_slice(bytes);
        }
        self.len = end;
        Ok(())
    }
}

impl core::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// `dst.copy_from_slice(src)`. On hosts (not Wasm guests or devices, where
/// code size comes first), 4 to 16 bytes (JSON keys, short
/// strings: most of what an encoder writes) are copied with two
/// overlapping fixed-size moves instead of a call to `memcpy`.
#[inline]
fn copy(dst: &mut [u8], src: &[u8]) {
    #[cfg(not(any(target_os = "none", target_family = "wasm")))]
    {
        let n = src.len();
        if (8..=16).contains(&n) {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
            return;
        } else if (4..8).contains(&n) {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..n].copy_from_slice(&src[n - 4..]);
            return;
        }
    }
    dst.copy_from_slice(src);
}

/// `copy_within`. On bare metal a plain loop instead of `memmove` (1.5 KiB
/// less flash); used off the hot path only.
pub(crate) fn move_bytes(buf: &mut [u8], src: core::ops::Range<usize>, dst: usize) {
    #[cfg(not(target_os = "none"))]
    buf.copy_within(src, dst);
    #[cfg(target_os = "none")]
    {
        let n = src.end - src.start;
        if dst <= src.start {
            for i in 0..n {
                buf[dst + i] = buf[src.start + i];
            }
        } else {
            for i in (0..n).rev() {
                buf[dst + i] = buf[src.start + i];
            }
        }
    }
}
