//! Strict JSON (RFC 8259) validation and compaction, string escaping, and
//! field lookup in compact JSON. No allocation, no recursion.
//!
//! [`compact`] checks a JSON text completely and writes it without the
//! whitespace outside strings, so a pretty-printed event still makes exactly
//! one line on the wire. Unpaired UTF-16 surrogates in `\u` escapes are
//! refused (as serde_json does), and so is a byte-order mark.

use crate::out::{Full, Out};

/// Deepest nesting of arrays and objects accepted: 127 levels, the most
/// serde_json parses (its recursion limit is 128).
pub const MAX_DEPTH: usize = 127;

/// What was wrong with a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The text ended inside a value, or held no value at all.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected character")]
    UnexpectedChar,
    /// Something follows the top-level value.
    #[error("trailing characters after the value")]
    TrailingCharacters,
    /// A backslash escape that JSON does not define.
    #[error("invalid escape")]
    InvalidEscape,
    /// A `\u` escape that is not four hex digits.
    #[error("invalid \\u escape")]
    InvalidUnicodeEscape,
    /// A `\u` escape of an unpaired UTF-16 surrogate.
    #[error("unpaired surrogate in \\u escape")]
    LoneSurrogate,
    /// A raw control character (below U+0020) inside a string.
    #[error("control character in string")]
    ControlCharacter,
    /// The bytes are not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A number that does not follow JSON's grammar.
    #[error("invalid number")]
    InvalidNumber,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than 127")]
    TooDeep,
    /// A number too large for a 64-bit float (most JSON readers fail on it).
    #[error("number out of range")]
    NumberOutOfRange,
}

/// A JSON text was refused: what and where (byte offset into the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {kind}")]
pub struct JsonError {
    /// What was wrong.
    pub kind: JsonErrorKind,
    /// Byte offset of the problem in the input.
    pub offset: usize,
}

/// The kind of a JSON value, as reported when an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `"…"`
    String,
    /// `[…]`
    Array,
    /// a number
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Kind::Object => "an object",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
        })
    }
}

/// Why [`compact`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactError {
    /// The input is not valid JSON.
    Json(JsonError),
    /// The output is too small.
    Full,
}

impl From<Full> for CompactError {
    fn from(_: Full) -> Self {
        CompactError::Full
    }
}

fn err(kind: JsonErrorKind, offset: usize) -> CompactError {
    CompactError::Json(JsonError { kind, offset })
}

/// Checks that `input` is exactly one valid JSON value (whitespace around it
/// allowed) and returns its kind. Writes nothing.
pub fn validate(input: &[u8]) -> Result<Kind, JsonError> {
    match compact(input, &mut Out::counter(usize::MAX)) {
        Ok(k) => Ok(k),
        Err(CompactError::Json(e)) => Err(e),
        Err(CompactError::Full) => unreachable_full(),
    }
}

#[cold]
fn unreachable_full() -> Result<Kind, JsonError> {
    // A counter with an unbounded limit cannot fill up; answer something
    // sensible rather than panic.
    Err(JsonError {
        kind: JsonErrorKind::UnexpectedEnd,
        offset: 0,
    })
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Validates `input` strictly and writes it compactly (no whitespace outside
/// strings; strings, numbers and escapes copied as they are) to `out`.
/// Returns the kind of the top-level value. On error `out` holds garbage the
/// caller must discard.
pub fn compact(input: &[u8], out: &mut Out<'_>) -> Result<Kind, CompactError> {
    if let Err(e) = core::str::from_utf8(input) {
        return Err(err(JsonErrorKind::InvalidUtf8, e.valid_up_to()));
    }
    // Container stack as bits: 1 = object, 0 = array.
    let mut stack: u128 = 0;
    let mut depth: usize = 0;
    let mut top: Option<Kind> = None;
    let n = input.len();
    let mut i = 0;

    #[derive(Clone, Copy, PartialEq)]
    enum Want {
        Value,
        ValueOrEnd, // just after '['
        KeyOrEnd,   // just after '{'
        Key,        // after ',' in an object
        Colon,
        CommaOrEnd,
    }
    let mut want = Want::Value;

    loop {
        while i < n && is_ws(input[i]) {
            i += 1;
        }
        if i == n {
            if depth == 0 && want == Want::CommaOrEnd {
                return top.ok_or(err(JsonErrorKind::UnexpectedEnd, i));
            }
            return Err(err(JsonErrorKind::UnexpectedEnd, i));
        }
        let b = input[i];
        match want {
            Want::CommaOrEnd => {
                if depth == 0 {
                    return Err(err(JsonErrorKind::TrailingCharacters, i));
                }
                let in_object = stack >> (depth - 1) & 1 == 1;
                match b {
                    b',' => {
                        out.push_byte(b',')?;
                        i += 1;
                        want = if in_object { Want::Key } else { Want::Value };
                    }
                    b'}' if in_object => {
                        out.push_byte(b'}')?;
                        i += 1;
                        depth -= 1;
                    }
                    b']' if !in_object => {
                        out.push_byte(b']')?;
                        i += 1;
                        depth -= 1;
                    }
                    _ => return Err(err(JsonErrorKind::UnexpectedChar, i)),
                }
            }
            Want::Colon => {
                if b != b':' {
                    return Err(err(JsonErrorKind::UnexpectedChar, i));
                }
                out.push_byte(b':')?;
                i += 1;
                want = Want::Value;
            }
            Want::Key | Want::KeyOrEnd => {
                if b == b'"' {
                    i = string(input, i, out)?;
                    want = Want::Colon;
                } else if b == b'}' && want == Want::KeyOrEnd {
                    out.push_byte(b'}')?;
                    i += 1;
                    depth -= 1;
                    want = Want::CommaOrEnd;
                } else {
                    return Err(err(JsonErrorKind::UnexpectedChar, i));
                }
            }
            Want::Value | Want::ValueOrEnd => {
                if b == b']' && want == Want::ValueOrEnd {
                    out.push_byte(b']')?;
                    i += 1;
                    depth -= 1;
                    want = Want::CommaOrEnd;
                    continue;
                }
                let kind = match b {
                    b'{' | b'[' => {
                        if depth == MAX_DEPTH {
                            return Err(err(JsonErrorKind::TooDeep, i));
                        }
                        out.push_byte(b)?;
                        i += 1;
                        if b == b'{' {
                            stack |= 1 << depth;
                            want = Want::KeyOrEnd;
                        } else {
                            stack &= !(1 << depth);
                            want = Want::ValueOrEnd;
                        }
                        depth += 1;
                        if top.is_none() {
                            top = Some(if b == b'{' { Kind::Object } else { Kind::Array });
                        }
                        continue;
                    }
                    b'"' => {
                        i = string(input, i, out)?;
                        Kind::String
                    }
                    b't' => {
                        i = literal(input, i, b"true", out)?;
                        Kind::Bool
                    }
                    b'f' => {
                        i = literal(input, i, b"false", out)?;
                        Kind::Bool
                    }
                    b'n' => {
                        i = literal(input, i, b"null", out)?;
                        Kind::Null
                    }
                    b'-' | b'0'..=b'9' => {
                        i = number(input, i, out)?;
                        Kind::Number
                    }
                    _ => return Err(err(JsonErrorKind::UnexpectedChar, i)),
                };
                if top.is_none() {
                    top = Some(kind);
                }
                want = Want::CommaOrEnd;
            }
        }
    }
}

fn literal(input: &[u8], i: usize, word: &[u8], out: &mut Out<'_>) -> Result<usize, CompactError> {
    let end = i + word.len();
    if end <= input.len() && &input[i..end] == word {
        out.push(word)?;
        Ok(end)
    } else {
        // Point at the first byte that differs.
        let mut j = i;
        while j < input.len() && j < end && input[j] == word[j - i] {
            j += 1;
        }
        if j == input.len() {
            Err(err(JsonErrorKind::UnexpectedEnd, j))
        } else {
            Err(err(JsonErrorKind::UnexpectedChar, j))
        }
    }
}

fn number(input: &[u8], start: usize, out: &mut Out<'_>) -> Result<usize, CompactError> {
    let n = input.len();
    let mut i = start;
    let digit = |i: usize| i < n && input[i].is_ascii_digit();
    if input[i] == b'-' {
        i += 1;
    }
    if !digit(i) {
        return Err(number_err(input, i));
    }
    let int_start = i;
    if input[i] == b'0' {
        i += 1;
    } else {
        while digit(i) {
            i += 1;
        }
    }
    let int_digits = i - int_start;
    let mut exp: u64 = 0;
    if i < n && input[i] == b'.' {
        i += 1;
        if !digit(i) {
            return Err(number_err(input, i));
        }
        while digit(i) {
            i += 1;
        }
    }
    if i < n && (input[i] == b'e' || input[i] == b'E') {
        i += 1;
        if i < n && (input[i] == b'+' || input[i] == b'-') {
            i += 1;
        }
        if !digit(i) {
            return Err(number_err(input, i));
        }
        while digit(i) {
            exp = exp
                .saturating_mul(10)
                .saturating_add((input[i] - b'0') as u64);
            i += 1;
        }
    }
    // Only a number that might pass f64's range is checked exactly.
    if (int_digits as u64).saturating_add(exp) > 300 && overflows_f64(&input[start..i]) {
        return Err(err(JsonErrorKind::NumberOutOfRange, start));
    }
    out.push(&input[start..i])?;
    Ok(i)
}

/// The smallest magnitude that rounds to infinity as an f64: halfway
/// between `f64::MAX` and 2^1024 (2^1024 - 2^970, ties go to even, which is
/// infinity), all 309 digits.
const F64_OVERFLOW: &[u8] = b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";

/// True when a valid JSON number is beyond f64's range (parses to
/// infinity), decided on its digits: exact, and without the float parser
/// (kilobytes of code on small targets).
fn overflows_f64(num: &[u8]) -> bool {
    let num = num.strip_prefix(b"-").unwrap_or(num);
    let (mant, exp) = match num.iter().position(|&b| b == b'e' || b == b'E') {
        Some(p) => (&num[..p], &num[p + 1..]),
        None => (num, &b""[..]),
    };
    let (int, frac) = match mant.iter().position(|&b| b == b'.') {
        Some(p) => (&mant[..p], &mant[p + 1..]),
        None => (mant, &b""[..]),
    };
    let (neg, exp) = match exp.first() {
        Some(b'-') => (true, &exp[1..]),
        Some(b'+') => (false, &exp[1..]),
        _ => (false, exp),
    };
    let e = exp.iter().fold(0i64, |a, &d| {
        a.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    let e = if neg { -e } else { e };
    // The digits without leading zeros: the value is 0.DIGITS x 10^scale.
    let digits = || int.iter().chain(frac).copied().skip_while(|&d| d == b'0');
    let leading = int.len() + frac.len() - digits().count();
    if digits().all(|d| d == b'0') {
        return false;
    }
    let scale = (int.len() as i64 - leading as i64).saturating_add(e);
    match scale.cmp(&(F64_OVERFLOW.len() as i64)) {
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Equal => {
            // Compare digit by digit, the shorter padded with zeros.
            let mut ds = digits();
            for &t in F64_OVERFLOW {
                let d = ds.next().unwrap_or(b'0');
                if d != t {
                    return d > t;
                }
            }
            true
        }
    }
}

fn number_err(input: &[u8], i: usize) -> CompactError {
    if i == input.len() {
        err(JsonErrorKind::UnexpectedEnd, i)
    } else {
        err(JsonErrorKind::InvalidNumber, i)
    }
}

fn hex4(input: &[u8], i: usize) -> Result<u16, CompactError> {
    if i + 4 > input.len() {
        return Err(err(JsonErrorKind::UnexpectedEnd, input.len()));
    }
    let mut v: u16 = 0;
    for (k, &c) in input[i..i + 4].iter().enumerate() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(err(JsonErrorKind::InvalidUnicodeEscape, i + k)),
        };
        v = v << 4 | d as u16;
    }
    Ok(v)
}

/// Validates the string starting at the quote `input[start]`; copies it
/// verbatim; returns the index after its closing quote.
fn string(input: &[u8], start: usize, out: &mut Out<'_>) -> Result<usize, CompactError> {
    let n = input.len();
    let mut i = start + 1;
    loop {
        // Fast scan of plain bytes (UTF-8 was checked up front).
        i = skip_plain(input, i);
        if i == n {
            return Err(err(JsonErrorKind::UnexpectedEnd, n));
        }
        match input[i] {
            b'"' => {
                out.push(&input[start..=i])?;
                return Ok(i + 1);
            }
            b'\\' => {
                let Some(&e) = input.get(i + 1) else {
                    return Err(err(JsonErrorKind::UnexpectedEnd, n));
                };
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        let v = hex4(input, i + 2)?;
                        if (0xDC00..0xE000).contains(&v) {
                            return Err(err(JsonErrorKind::LoneSurrogate, i));
                        }
                        if (0xD800..0xDC00).contains(&v) {
                            let j = i + 6;
                            match (input.get(j), input.get(j + 1)) {
                                (Some(b'\\'), Some(b'u')) => {}
                                (None, _) | (Some(b'\\'), None) => {
                                    return Err(err(JsonErrorKind::UnexpectedEnd, n))
                                }
                                _ => return Err(err(JsonErrorKind::LoneSurrogate, i)),
                            }
                            let lo = hex4(input, j + 2)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err(err(JsonErrorKind::LoneSurrogate, i));
                            }
                            i = j + 6;
                        } else {
                            i += 6;
                        }
                    }
                    _ => return Err(err(JsonErrorKind::InvalidEscape, i)),
                }
            }
            _ => return Err(err(JsonErrorKind::ControlCharacter, i)),
        }
    }
}

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
fn special(b: u8) -> bool {
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
fn skip_plain(b: &[u8], mut i: usize) -> usize {
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

/// The escaped contents of a JSON string (between its quotes), exactly as
/// they appear in valid JSON text. Written back verbatim, it needs no
/// escaping again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a>(&'a [u8]);

impl<'a> JsonStr<'a> {
    /// The escaped text, without quotes.
    pub fn as_escaped(&self) -> &'a [u8] {
        self.0
    }

    /// The text itself when it needs no unescaping (no backslash in it).
    pub fn as_plain(&self) -> Option<&'a str> {
        if self.0.contains(&b'\\') {
            None
        } else {
            core::str::from_utf8(self.0).ok()
        }
    }

    /// Compares the unescaped text with `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        unescaped_eq(self.0, s.as_bytes())
    }
}

/// A read-only view of one compact, valid JSON value (as this crate writes
/// them), for looking fields up. Given to [`EventType::With`] resolvers.
///
/// [`EventType::With`]: crate::EventType::With
#[derive(Debug, Clone, Copy)]
pub struct JsonView<'a>(&'a [u8]);

impl<'a> JsonView<'a> {
    /// Wraps compact JSON text produced by this crate (or [`compact`]).
    pub fn new(compact_json: &'a [u8]) -> Self {
        JsonView(compact_json)
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The kind of this value.
    pub fn kind(&self) -> Kind {
        match self.0.first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't') | Some(b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// The value at a dotted path of object keys (`"a.b"` is key `b` inside
    /// the object at key `a`). `None` when a key is missing or a step is not
    /// an object.
    pub fn get(&self, path: &str) -> Option<JsonView<'a>> {
        let mut cur = self.0;
        for seg in path.split('.') {
            cur = object_get(cur, seg)?;
        }
        Some(JsonView(cur))
    }

    /// The string at a dotted path, if it is a string.
    pub fn get_str(&self, path: &str) -> Option<JsonStr<'a>> {
        self.get(path)?.as_str()
    }

    /// This value as a string, if it is one.
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        let b = self.0;
        if b.len() >= 2 && b[0] == b'"' {
            Some(JsonStr(&b[1..b.len() - 1]))
        } else {
            None
        }
    }
}

/// In compact valid JSON `obj`, the value of key `key`.
fn object_get<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    if obj.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1;
    if obj.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        // key string
        let kend = skip_string(obj, i)?;
        let k = &obj[i + 1..kend - 1];
        let vstart = kend + 1; // after ':'
        let vend = skip_value(obj, vstart)?;
        if unescaped_eq(k, key.as_bytes()) {
            return Some(&obj[vstart..vend]);
        }
        match obj.get(vend) {
            Some(b',') => i = vend + 1,
            _ => return None,
        }
    }
}

/// Index after the string starting at `obj[i] == '"'`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Index after the compact value starting at `b[i]`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Compares escaped JSON string contents with plain text.
fn unescaped_eq(esc: &[u8], plain: &[u8]) -> bool {
    if !esc.contains(&b'\\') {
        return esc == plain;
    }
    let mut p = 0;
    let mut i = 0;
    let mut buf = [0u8; 4];
    while i < esc.len() {
        let piece: &[u8] = if esc[i] == b'\\' {
            let c = match esc.get(i + 1) {
                Some(b'n') => '\n',
                Some(b't') => '\t',
                Some(b'r') => '\r',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'u') => {
                    let hex = |k: usize| -> Option<u32> {
                        esc.get(k..k + 4)?
                            .iter()
                            .try_fold(0u32, |v, &c| Some(v << 4 | (c as char).to_digit(16)?))
                    };
                    let hi = match hex(i + 2) {
                        Some(v) => v,
                        None => return false,
                    };
                    let (cp, len) = if (0xD800..0xDC00).contains(&hi) {
                        match hex(i + 8) {
                            Some(lo) => (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12),
                            None => return false,
                        }
                    } else {
                        (hi, 6)
                    };
                    let ch = match char::from_u32(cp) {
                        Some(c) => c,
                        None => return false,
                    };
                    let s = ch.encode_utf8(&mut buf);
                    let n = s.len();
                    i += len;
                    if plain.get(p..p + n) != Some(&buf[..n]) {
                        return false;
                    }
                    p += n;
                    continue;
                }
                Some(&c) => c as char,
                None => return false,
            };
            i += 2;
            let s = c.encode_utf8(&mut buf);
            let n = s.len();
            &buf[..n]
        } else {
            i += 1;
            core::slice::from_ref(&esc[i - 1])
        };
        if plain.get(p..p + piece.len()) != Some(piece) {
            return false;
        }
        p += piece.len();
    }
    p == plain.len()
}

#[cfg(test)]
mod tests {

    /// The digit-based overflow check agrees with the float parser on
    /// numbers at and around the boundary, in many spellings.
    #[test]
    fn overflow_check_matches_the_float_parser() {
        use std::format;
        use std::string::String;
        let t = core::str::from_utf8(F64_OVERFLOW).unwrap();
        let mut cases: std::vec::Vec<String> = std::vec::Vec::new();
        let n = if cfg!(miri) { 2 } else { 40 };
        for cut in (1..t.len()).step_by(t.len() / n) {
            let head = &t[..cut];
            // The boundary's leading digits, rounded down and up.
            let mut up: std::vec::Vec<u8> = head.as_bytes().to_vec();
            if let Some(p) = up.iter().rposition(|&d| d != b'9') {
                up[p] += 1;
                up.truncate(p + 1);
            }
            let up = String::from_utf8(up).unwrap();
            for d in [head, up.as_str(), t] {
                let e = 309 - d.len() as i64;
                cases.push(format!("{d}e{e}"));
                cases.push(format!("-{d}E+{e}"));
                cases.push(format!("0.{d}e309"));
                cases.push(format!("0.000{d}e312"));
                cases.push(format!("{}.{}e{}", &d[..1], &d[1..], 308));
                cases.push(format!("{d}0e{}", e - 1));
            }
        }
        cases.push(String::from(t));
        cases.push(format!("{t}.0000001"));
        cases.push("1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548458177115317644757302700698555713669596228429148198608349364752927190741684443655107043427115596995080930428801779041744977919.99".into());
        for c in [
            "1e308",
            "1e309",
            "9e308",
            "0e999",
            "0.0e99999",
            "1e-99999",
            "10e307",
        ] {
            cases.push(c.into());
        }
        for c in &cases {
            let want = c.parse::<f64>().unwrap().is_infinite();
            assert_eq!(overflows_f64(c.as_bytes()), want, "{c}");
        }
    }
    use super::*;

    fn c(s: &str) -> Result<(Kind, std::string::String), CompactError> {
        extern crate std;
        let mut buf = [0u8; 4096];
        let mut out = Out::new(&mut buf);
        let k = compact(s.as_bytes(), &mut out)?;
        Ok((
            k,
            std::string::String::from_utf8(out.written().to_vec()).unwrap(),
        ))
    }

    #[test]
    fn compacts() {
        assert_eq!(
            c(" { \"a\" : [ 1 , 2.5e3 , \"x y\" ] }\n").unwrap().1,
            r#"{"a":[1,2.5e3,"x y"]}"#
        );
    }

    #[test]
    fn lookup() {
        let j = br#"{"a":{"b\u0063":"x\"y","n":1},"t":"plain"}"#;
        let v = JsonView::new(j);
        assert_eq!(v.get_str("t").unwrap().as_plain(), Some("plain"));
        assert_eq!(v.get_str("a.bc").unwrap().as_escaped(), b"x\\\"y");
        assert!(v.get_str("a.n").is_none());
        assert!(v.get_str("a.zz").is_none());
    }
}
