//! A bounded output cursor: writes into a caller slice, or only counts.
//!
//! Every encoder in this crate writes through [`Out`], so "the record does not
//! fit" is one error ([`Full`]) and nothing is ever written past the limit.

/// The output was about to pass its limit; nothing past the limit was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A write cursor over a byte slice (or a counter when there is no slice).
///
/// Every write checks one bound (the slice's end); a counter has an empty
/// slice, so its writes all take the one cold path that counts them.
#[derive(Debug)]
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// A counter's limit (`None`: writes into `buf`).
    counting: Option<usize>,
    slack: usize,
}

impl<'a> Out<'a> {
    /// Writes into `buf`, at most `buf.len()` bytes.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out {
            buf,
            len: 0,
            counting: None,
            slack: 0,
        }
    }

    /// Counts bytes without storing them, failing past `limit`.
    pub fn counter(limit: usize) -> Self {
        Out {
            buf: &mut [],
            len: 0,
            counting: Some(limit),
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
        self.counting.is_some()
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
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Past the slice's end: a counter counts `n` more bytes (up to its
    /// limit); a writer is full.
    #[cold]
    #[inline(never)]
    fn count(&mut self, n: usize) -> Result<(), Full> {
        match self.counting {
            Some(limit) if self.len + n <= limit => {
                self.len += n;
                Ok(())
            }
            _ => Err(Full),
        }
    }

    /// Appends `bytes`, or fails without writing anything.
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                copy(dst, bytes);
                self.len = end;
                Ok(())
            }
            None => self.count(bytes.len()),
        }
    }

    /// Appends `open`, `bytes` and `close` (a quoted string, a key), or
    /// fails without writing anything.
    #[cfg_attr(any(target_family = "wasm", target_os = "none"), allow(dead_code))]
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    pub(crate) fn push_wrapped(&mut self, open: u8, bytes: &[u8], close: u8) -> Result<(), Full> {
        let end = self.len + bytes.len() + 2;
        match self.buf.get_mut(self.len..end) {
            Some([o, mid @ .., c]) => {
                *o = open;
                copy(mid, bytes);
                *c = close;
                self.len = end;
                Ok(())
            }
            _ => self.count(bytes.len() + 2),
        }
    }

    /// Appends `"key":`, after a comma when `comma`.
    #[cfg_attr(any(target_family = "wasm", target_os = "none"), allow(dead_code))]
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    pub(crate) fn push_key(&mut self, comma: bool, key: &[u8]) -> Result<(), Full> {
        let c = comma as usize;
        let n = c + key.len() + 3;
        let end = self.len + n;
        match self.buf.get_mut(self.len..end) {
            Some(dst) if n >= 3 => {
                // Without a comma, the quote overwrites it.
                dst[0] = b',';
                dst[c] = b'"';
                copy(&mut dst[c + 1..n - 2], key);
                dst[n - 2] = b'"';
                dst[n - 1] = b':';
                self.len = end;
                Ok(())
            }
            _ => self.count(n),
        }
    }

    /// Appends `N` bytes that `fill` writes (nothing for a counter, which
    /// counts them), with one bounds check.
    #[inline]
    pub(crate) fn push_fixed<const N: usize>(
        &mut self,
        fill: impl FnOnce(&mut [u8; N]),
    ) -> Result<(), Full> {
        let end = self.len + N;
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                if let Ok(a) = <&mut [u8; N]>::try_from(dst) {
                    fill(a);
                }
                self.len = end;
                Ok(())
            }
            None => self.count(N),
        }
    }

    /// Appends `v` (below 100) in decimal, without `itoa` (most numbers
    /// in events are small).
    #[cfg_attr(any(target_family = "wasm", target_os = "none"), allow(dead_code))]
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    pub(crate) fn push_small(&mut self, v: u8) -> Result<(), Full> {
        if v < 10 {
            return self.push_byte(b'0' + v);
        }
        self.push_fixed(|d: &mut [u8; 2]| *d = [b'0' + v / 10, b'0' + v % 10])
    }

    /// Appends one byte.
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    pub fn push_byte(&mut self, b: u8) -> Result<(), Full> {
        match self.buf.get_mut(self.len) {
            Some(dst) => {
                *dst = b;
                self.len += 1;
                Ok(())
            }
            None => self.count(1),
        }
    }

    /// Appends a copy of bytes already written (`range` within
    /// [`written`](Self::written)), or fails without writing anything.
    pub(crate) fn push_within(&mut self, range: core::ops::Range<usize>) -> Result<(), Full> {
        let n = range.end.saturating_sub(range.start);
        let end = self.len + n;
        if range.end > self.len || range.start > range.end {
            return Err(Full);
        }
        if end > self.buf.len() {
            return self.count(n);
        }
        move_bytes(self.buf, range, self.len);
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
        if at > self.len {
            return Err(Full);
        }
        if end > self.buf.len() {
            return self.count(n);
        }
        move_bytes(self.buf, at..self.len, at + n);
        self.buf[at..at + n].copy_from_slice(bytes);
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
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
fn copy(dst: &mut [u8], src: &[u8]) {
    #[cfg(not(any(target_os = "none", target_family = "wasm")))]
    {
        let n = src.len();
        if n < 4 {
            // 0 to 3 bytes: the first, middle and last cover them.
            if n > 0 {
                dst[0] = src[0];
                dst[n / 2] = src[n / 2];
                dst[n - 1] = src[n - 1];
            }
            return;
        } else if (33..=64).contains(&n) {
            dst[..32].copy_from_slice(&src[..32]);
            dst[n - 32..n].copy_from_slice(&src[n - 32..]);
            return;
        } else if (17..=32).contains(&n) {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..n].copy_from_slice(&src[n - 16..]);
            return;
        } else if (8..=16).contains(&n) {
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
