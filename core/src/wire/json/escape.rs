//! Writing JSON strings: escaping exactly as serde_json does (`"`, `\\` and
//! control characters), 8 bytes at a time.

use crate::wire::out::{Full, Out};
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string (with quotes), escaping exactly as serde_json
/// does: `"` `\` and control characters.
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
pub fn write_str(out: &mut Out<'_>, s: &str) -> Result<(), Full> {
    let b = s.as_bytes();
    // Hosts: most strings need no escaping: asked once, then one bounds
    // check and one copy. Guests and devices: one loop (size first).
    #[cfg(not(any(target_family = "wasm", target_os = "none")))]
    if is_plain(b) {
        return out.push_wrapped(b'"', b, b'"');
    }
    out.push_byte(b'"')?;
    write_escaped(out, b)?;
    out.push_byte(b'"')
}

/// True when `b` holds no byte JSON requires escaped. Looks at 8 bytes
/// at a time, the last word overlapping the one before; a string of 1 to
/// 7 bytes is read as one word of overlapping pieces (a byte repeated in a
/// word changes nothing here: only "is there one" is asked).
#[cfg_attr(any(target_family = "wasm", target_os = "none"), allow(dead_code))]
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
pub(crate) fn is_plain(b: &[u8]) -> bool {
    let n = b.len();
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    if n >= 16 {
        // SAFETY: compiled only where SSE2 is enabled for the whole build
        // (the `cfg` above; every x86-64 CPU has it), which is all that
        // calling a function with `#[target_feature(enable = "sse2")]`
        // requires. It reads `b` through safe slice indexing only.
        #[allow(unsafe_code)]
        return unsafe { sse2::is_plain(b) };
    }
    if n >= 8 {
        let mut acc = 0;
        let mut i = 0;
        while i + 8 < n {
            acc |= special_flags(word(b, i));
            i += 8;
        }
        return (acc | special_flags(word(b, n - 8))) == 0;
    }
    let w = if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | hi << 32
    } else if n > 0 {
        // b[0], b[n / 2] and b[n - 1] cover 1 to 3 bytes; the rest plain.
        0x6161_6161_6100_0000 | b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16
    } else {
        return true;
    };
    special_flags(w) == 0
}

/// Bytes that end a run of plain string bytes: `"`, `\\` and control
/// characters (what JSON requires escaped).
#[inline]
pub(crate) fn special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Flags (high bit of each byte) the special bytes of the 8-byte word `w`
/// (little-endian). Only the lowest flag is exact (a borrow can flag a
/// byte above a special one), which is the one used.
#[inline]
fn special_flags(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let s = w ^ (ONES * b'\\' as u64);
    let slash = s.wrapping_sub(ONES) & !s;
    (control | quote | slash) & HIGH
}

#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Index of the first special byte at or after `i`, or `b.len()`. Looks at
/// 8 bytes at a time (SWAR: a few integer operations per word, no
/// `unsafe`), the last word overlapping the one before, so a string of 8
/// bytes or more has no byte-by-byte tail.
#[cfg(not(target_os = "none"))]
#[inline]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    while i + 8 <= n {
        let f = special_flags(word(b, i));
        if f != 0 {
            return i + (f.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i == n {
        return n;
    }
    if n >= 8 {
        // The last 8 bytes, those before `i` (plain, or a special byte
        // already handled) replaced by a plain one: a special byte there
        // would flag the bytes above it by its borrow.
        let from = n - 8;
        let keep = u64::MAX << ((i - from) * 8);
        let w = (word(b, from) & keep) | (0x6161_6161_6161_6161 & !keep);
        let f = special_flags(w);
        return if f == 0 {
            n
        } else {
            from + (f.trailing_zeros() / 8) as usize
        };
    }
    while i < n && !special(b[i]) {
        i += 1;
    }
    i
}

/// Index of the first special byte at or after `i`, or `b.len()`: on a
/// device a byte at a time (its 32-bit core has no 64-bit words to gain
/// from; size first).
#[cfg(target_os = "none")]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !special(b[i]) {
        i += 1;
    }
    i
}

/// Writes the escaped contents of a JSON string, without quotes.
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
pub fn write_str_contents(out: &mut Out<'_>, s: &str) -> Result<(), Full> {
    let b = s.as_bytes();
    #[cfg(not(any(target_family = "wasm", target_os = "none")))]
    if is_plain(b) {
        return out.push(b);
    }
    write_escaped(out, b)
}

/// Writes `bytes` escaped (on hosts: at least one byte needs it).
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(never))]
fn write_escaped(out: &mut Out<'_>, bytes: &[u8]) -> Result<(), Full> {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = skip_plain(bytes, i);
        if i == bytes.len() {
            break;
        }
        let b = bytes[i];
        out.push(&bytes[start..i])?;
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ],
        };
        out.push(esc)?;
        i += 1;
        start = i;
    }
    out.push(&bytes[start..])
}

/// 16 bytes at a time with SSE2 (every x86-64 has it): about a quarter of
/// the instructions of the 8-byte words for the strings of a typical event.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
mod sse2 {
    use core::arch::x86_64::*;

    /// 16 bytes of `b` from `at` as one vector (two 8-byte loads: no
    /// pointer, no `unsafe`).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(b: &[u8], at: usize) -> __m128i {
        let lo = super::word(b, at) as i64;
        let hi = super::word(b, at + 8) as i64;
        _mm_set_epi64x(hi, lo)
    }

    /// A mask of the special bytes of `v`: below 0x20, `"` or `\\`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn special(v: __m128i) -> __m128i {
        // Unsigned `v < 0x20`: `max(v, 0x1f) == 0x1f`.
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        _mm_or_si128(control, _mm_or_si128(quote, slash))
    }

    /// [`super::is_plain`] for 16 bytes or more: every 16, the last ones
    /// overlapping those before.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn is_plain(b: &[u8]) -> bool {
        let n = b.len();
        let mut acc = special(load(b, n - 16));
        let mut i = 0;
        while i + 16 < n {
            acc = _mm_or_si128(acc, special(load(b, i)));
            i += 16;
        }
        _mm_movemask_epi8(acc) == 0
    }
}
