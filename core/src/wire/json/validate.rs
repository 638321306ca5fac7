//! Strict JSON (RFC 8259) validation and compaction, with no allocation
//! and no recursion: [`compact`] checks a text completely and writes it
//! without the whitespace outside strings.

use super::escape::skip_plain;
use super::view::unescaped_eq;

use crate::wire::out::{Full, Out};
use crate::wire::ser::Found;

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
    compact_finding(input, out, None).map(|(k, _)| k)
}

/// Like [`compact`], also noting where the string value of the first
/// top-level key equal to `key` was written (see `ser::to_out_finding`).
pub(crate) fn compact_finding(
    input: &[u8],
    out: &mut Out<'_>,
    key: Option<&str>,
) -> Result<(Kind, Found), CompactError> {
    // The search for `key`: `Key` (among the top-level keys), `Value` (the
    // key was just read: its value decides), `Done`.
    #[derive(Clone, Copy, PartialEq)]
    enum Look {
        Key,
        Value,
        Done,
    }
    let (mut look, mut found) = match key {
        Some(_) => (Look::Key, Found::Absent),
        None => (Look::Done, Found::Unknown),
    };
    if let Err(e) = core::str::from_utf8(input) {
        return Err(err(JsonErrorKind::InvalidUtf8, e.valid_up_to()));
    }
    // Container stack as bits: 1 = object, 0 = array (two words, not a
    // u128: no 128-bit shifts linked on guests and devices).
    let mut stack = [0u64; 2];
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
                return top
                    .map(|t| (t, found))
                    .ok_or(err(JsonErrorKind::UnexpectedEnd, i));
            }
            return Err(err(JsonErrorKind::UnexpectedEnd, i));
        }
        let b = input[i];
        match want {
            Want::CommaOrEnd => {
                if depth == 0 {
                    return Err(err(JsonErrorKind::TrailingCharacters, i));
                }
                let at = depth - 1;
                let in_object = stack[at / 64 % 2] >> (at % 64) & 1 == 1;
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
                    let start = i;
                    i = string(input, i, out)?;
                    // (Escaped as in the input, which the output copies.)
                    if let (Some(k), Look::Key, 1) = (key, look, depth) {
                        if unescaped_eq(&input[start + 1..i - 1], k.as_bytes()) {
                            look = Look::Value;
                        }
                    }
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
                if look == Look::Value && depth == 1 && b != b'"' {
                    look = Look::Done; // not a string: the type is not here
                }
                let kind = match b {
                    b'{' | b'[' => {
                        if depth == MAX_DEPTH {
                            return Err(err(JsonErrorKind::TooDeep, i));
                        }
                        out.push_byte(b)?;
                        i += 1;
                        if b == b'{' {
                            stack[depth / 64 % 2] |= 1 << (depth % 64);
                            want = Want::KeyOrEnd;
                        } else {
                            stack[depth / 64 % 2] &= !(1 << (depth % 64));
                            want = Want::ValueOrEnd;
                        }
                        depth += 1;
                        if top.is_none() {
                            top = Some(if b == b'{' { Kind::Object } else { Kind::Array });
                        }
                        continue;
                    }
                    b'"' => {
                        let at = out.len();
                        i = string(input, i, out)?;
                        if look == Look::Value && depth == 1 {
                            found = Found::Str(at + 1, out.len() - 1);
                            look = Look::Done;
                        }
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
    let m = num
        .iter()
        .position(|&b| b == b'e' || b == b'E')
        .unwrap_or(num.len());
    let (mant, mut exp) = (&num[..m], num.get(m + 1..).unwrap_or(&[]));
    let neg = exp.first() == Some(&b'-');
    if let Some(b'-' | b'+') = exp.first() {
        exp = &exp[1..];
    }
    let mut e: i64 = 0;
    for &d in exp {
        e = e.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if neg {
        e = -e;
    }
    // The value is 0.DIGITS x 10^scale, DIGITS from the first nonzero one.
    let dot = mant.iter().position(|&b| b == b'.').unwrap_or(mant.len());
    let Some(first) = mant.iter().position(|&b| b != b'0' && b != b'.') else {
        return false;
    };
    // The zeros before it, the point not counted.
    let leading = first - usize::from(dot < first);
    let scale = (dot as i64 - leading as i64).saturating_add(e);
    match scale.cmp(&(F64_OVERFLOW.len() as i64)) {
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Equal => {
            // Compare digit by digit, the shorter padded with zeros.
            let mut ds = mant[first..].iter().copied().filter(|&b| b != b'.');
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
    use crate::wire::json::JsonView;
    use crate::wire::out::Out;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 8 } else { 2000 },
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Random spellings near f64's limit: the digit check agrees with
        /// the float parser.
        #[test]
        fn overflow_check_agrees_near_the_limit(
            lead in "0{0,3}",
            digits in "[1-9][0-9]{0,40}",
            point in 0usize..45,
            zeros in "0{0,3}",
            e in 260i64..330,
            sign in proptest::option::of(proptest::bool::ANY),
            neg in proptest::bool::ANY,
        ) {
            use std::format;
            let mant = format!("{lead}{digits}{zeros}");
            let p = point.min(mant.len());
            let mant = if p == mant.len() {
                mant
            } else {
                format!("{}.{}", &mant[..p.max(1)], &mant[p.max(1)..])
            };
            let mant = mant.trim_end_matches('.');
            let exp = match sign {
                Some(true) => format!("e+{e}"),
                Some(false) => format!("E{e}"),
                None => format!("e{}", e - 300),
            };
            let n = format!("{}{mant}{exp}", if neg { "-" } else { "" });
            let want = n.parse::<f64>().unwrap().is_infinite();
            proptest::prop_assert_eq!(overflows_f64(n.as_bytes()), want, "{}", n);
        }
    }

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
