//! Reading fields of compact JSON in place (what event types are resolved
//! from), without parsing into values.

use super::validate::Kind;
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
    /// Wraps compact JSON text produced by this crate (or [`compact`](super::compact)).
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
        // (Split by bytes: a char pattern links a searcher on devices.)
        for seg in path.as_bytes().split(|&b| b == b'.') {
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
fn object_get<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
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
        if unescaped_eq(k, key) {
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
pub(crate) fn unescaped_eq(esc: &[u8], plain: &[u8]) -> bool {
    // A byte loop: `contains` links `memchr` on devices.
    #[allow(clippy::manual_contains)]
    if !esc.iter().any(|&b| b == b'\\') {
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
