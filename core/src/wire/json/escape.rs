//! Writing JSON strings: escaping exactly as serde_json does (`"`, `\\` and
//! control characters), 8 bytes at a time.

use crate::wire::out::{Full, Out};
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string (with quotes), escaping exactly as serde_json
/// does: `"` `\` and control characters.
pub fn write_str(out: &mut Out<'_>, s: &str) -> Result<(), Full> {
    out.push_byte(b'"')?;
    write_str_contents(out, s)?;
    out.push_byte(b'"')
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

/// Writes the escaped contents of a JSON string, without quotes.
pub fn write_str_contents(out: &mut Out<'_>, s: &str) -> Result<(), Full> {
    let bytes = s.as_bytes();
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
