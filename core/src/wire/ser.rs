//! A serde `Serializer` that writes compact JSON into an [`Out`] without
//! allocating, and refuses what JSON cannot carry faithfully.
//!
//! Output is byte-for-byte what `serde_json::to_string` writes for the same
//! value (same escaping, same number formatting through `itoa`/`ryu`), except
//! that this one refuses instead of guessing: non-string map keys,
//! non-finite floats and byte strings are errors, never written half-way.

use crate::wire::json::{self, Kind, MAX_DEPTH};
use crate::wire::out::{Full, Out};
use core::fmt::{self, Write as _};
use serde::ser::{self, Serialize};

/// Why a value could not be encoded as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerError {
    /// The output ran out of room (the caller decides what that means).
    #[error("output full")]
    Full,
    /// An event must be a JSON object or a string; this was something else.
    #[error("an event must be a JSON object or a string, not {0}")]
    NotObjectOrString(Kind),
    /// Metadata must be a map or struct.
    #[error("metadata must be a JSON object, not {0}")]
    MetadataNotObject(Kind),
    /// A map key that is not a string (JSON keys are strings).
    #[error("map keys must be strings")]
    NonStringKey,
    /// NaN or an infinity: JSON has no representation for them.
    #[error("NaN or infinite float")]
    NonFiniteFloat,
    /// Raw bytes: JSON has no byte strings.
    #[error("byte strings are not JSON")]
    Bytes,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than 127")]
    TooDeep,
    /// The value's `Serialize` implementation reported an error, with its
    /// text (the first [`CUSTOM_TEXT`] bytes).
    #[error("serialize failed: {0}")]
    Custom(heapless::String<CUSTOM_TEXT>),
}

/// Bytes of a [`SerError::Custom`] text kept: 64; on a device none (its
/// kind stays). Every encoding error travels by value through each step of
/// the encoder: without the text it is returned in registers, which takes
/// 300 bytes off a firmware.
pub const CUSTOM_TEXT: usize = if cfg!(target_os = "none") { 0 } else { 64 };

impl From<Full> for SerError {
    fn from(_: Full) -> Self {
        SerError::Full
    }
}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let mut s = Truncating(heapless::String::new());
        let _ = write!(s, "{msg}");
        SerError::Custom(s.0)
    }
}

struct Truncating(heapless::String<CUSTOM_TEXT>);
impl fmt::Write for Truncating {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// What the top-level value must be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Top {
    /// An event: object or string.
    Event,
    /// Caller metadata: an object, written as `,"k":v` pairs without braces.
    Flatten,
    /// Anything (nested values).
    Any,
}

/// Serializes `value` into `out` as the top-level value `top` allows.
/// Returns the kind written.
pub(crate) fn to_out<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Out<'_>,
    top: Top,
) -> Result<Kind, SerError> {
    to_out_finding(value, out, top, None).map(|(k, _)| k)
}

/// What encoding found of the top-level field asked for (see
/// [`to_out_finding`] and [`json::compact_finding`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Found {
    /// Not looked for: read the encoded event back.
    Unknown,
    /// The event has no such top-level field, or its first one is not a
    /// string: what reading it back would find too.
    Absent,
    /// The field's string value, escaped, at this range of the output.
    Str(usize, usize),
}

/// Like [`to_out`], also noting where the string value of the event's
/// top-level field `key` was written: the first top-level key equal to
/// `key` (a struct's field, a map's key, an enum variant's name), as
/// reading the event back would find it.
pub(crate) fn to_out_finding<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Out<'_>,
    top: Top,
    key: Option<&str>,
) -> Result<(Kind, Found), SerError> {
    let mut s = Ser {
        out,
        r: Rules::new(top),
        find: key.map_or(Find::Off, Find::Key),
    };
    value.serialize(&mut s)?;
    Ok(s.outcome())
}

impl Ser<'_, '_, '_> {
    /// The kind written and what was found of the field looked for (one
    /// copy for every event type on guests and devices).
    #[cfg_attr(any(target_family = "wasm", target_os = "none"), inline(never))]
    fn outcome(&self) -> (Kind, Found) {
        let found = match self.find {
            Find::Found(a, b) => Found::Str(a, b),
            Find::Off => Found::Unknown,
            Find::Key(_) | Find::Value | Find::Absent => Found::Absent,
        };
        (self.r.kind, found)
    }
}

/// `a == b`; on a device a byte loop (`==` links `memcmp`: 116 bytes of
/// flash for the few short keys compared).
#[inline]
fn same(a: &str, b: &str) -> bool {
    #[cfg(target_os = "none")]
    {
        a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
    }
    #[cfg(not(target_os = "none"))]
    {
        a == b
    }
}

/// Looking for a top-level field's string value while serializing.
#[derive(Clone, Copy)]
enum Find<'k> {
    /// Not asked.
    Off,
    /// The first such key's value was not a string.
    Absent,
    /// Looking for this key among the top-level struct's fields.
    Key(&'k str),
    /// The key was just written: its value comes next.
    Value,
    /// Found at this range of the output.
    Found(usize, usize),
}

/// The rules a serializer applies as it goes: what the top-level value
/// may be, how deep values nest. One copy for the encoder's serializer and
/// the tape's (`tape.rs`), so both refuse the same values at the same point.
#[derive(Clone, Copy)]
pub(crate) struct Rules {
    /// Nesting levels open.
    pub depth: usize,
    /// What the next value may be.
    pub top: Top,
    /// What the top-level event was.
    pub kind: Kind,
}

impl Rules {
    /// Before the top-level value, which must be `top`.
    pub(crate) fn new(top: Top) -> Self {
        Rules {
            depth: 0,
            top,
            kind: Kind::Null,
        }
    }

    /// Called by every scalar/compound entry point: checks the top-level rule.
    #[inline(always)]
    pub(crate) fn enter(&mut self, kind: Kind) -> Result<(), SerError> {
        if self.top == Top::Any {
            return Ok(());
        }
        self.enter_top(kind)
    }

    /// The top-level value's rule.
    #[inline(never)]
    fn enter_top(&mut self, kind: Kind) -> Result<(), SerError> {
        match self.top {
            Top::Any => Ok(()),
            Top::Event => {
                self.top = Top::Any;
                self.kind = kind;
                match kind {
                    Kind::Object | Kind::String => Ok(()),
                    k => Err(SerError::NotObjectOrString(k)),
                }
            }
            Top::Flatten => match kind {
                Kind::Object => Ok(()),
                k => Err(SerError::MetadataNotObject(k)),
            },
        }
    }

    /// Opens an object: `true` when it is the flattened metadata (no level
    /// of its own, no braces), else one level deeper.
    #[inline(always)]
    pub(crate) fn open_object(&mut self) -> Result<bool, SerError> {
        self.enter(Kind::Object)?;
        let flat = self.top == Top::Flatten;
        if flat {
            self.top = Top::Any;
        } else {
            self.push_depth()?;
        }
        Ok(flat)
    }

    /// One level deeper, refused beyond [`MAX_DEPTH`].
    pub(crate) fn push_depth(&mut self) -> Result<(), SerError> {
        if self.depth >= MAX_DEPTH {
            return Err(SerError::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }
}

struct Ser<'o, 'b, 'k> {
    out: &'o mut Out<'b>,
    r: Rules,
    find: Find<'k>,
}

impl<'o, 'b, 'k> Ser<'o, 'b, 'k> {
    /// An integer of any width (`neg`: minus `abs`): one copy on guests
    /// and devices (32-bit ARM: no 64-bit divide, no itoa table, see
    /// `crate::wire::num`).
    #[cfg(any(target_family = "wasm", target_os = "none"))]
    #[inline(never)]
    fn int(&mut self, neg: bool, abs: u64) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        if neg {
            self.out.push_byte(b'-')?;
        }
        self.out
            .push(crate::wire::num::decimal(abs, &mut [0u8; 20]))?;
        Ok(())
    }

    #[inline(always)]
    fn enter(&mut self, kind: Kind) -> Result<(), SerError> {
        self.r.enter(kind)
    }

    /// Opens an object; in flatten mode writes no brace.
    fn open_object(&mut self) -> Result<Compound<'_, 'o, 'b, 'k>, SerError> {
        let flat = self.r.open_object()?;
        if !flat {
            self.out.push_byte(b'{')?;
        }
        // Flattened: no braces, and every entry (the first too) gets a comma.
        Ok(Compound {
            ser: self,
            first: !flat,
            flat,
            close: if flat { b"" } else { b"}" },
        })
    }

    fn push_depth(&mut self) -> Result<(), SerError> {
        self.r.push_depth()
    }

    #[inline]
    fn float(&mut self, v: f64, is_f32: bool) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        if !v.is_finite() {
            return Err(SerError::NonFiniteFloat);
        }
        if !is_f32 {
            if let Some((neg, m, d)) = short_decimal(v) {
                return write_decimal(self.out, neg, m, d).map_err(SerError::from);
            }
        }
        let mut b = ryu::Buffer::new();
        let s = if is_f32 {
            b.format_finite(v as f32)
        } else {
            b.format_finite(v)
        };
        // serde_json writes a positive exponent with its sign: `1e+20`.
        match s.find('e') {
            Some(i) if s.as_bytes().get(i + 1) != Some(&b'-') => {
                self.out.push(&s.as_bytes()[..=i])?;
                self.out.push_byte(b'+')?;
                self.out.push(&s.as_bytes()[i + 1..])?;
            }
            _ => self.out.push(s.as_bytes())?,
        }
        Ok(())
    }
}

/// Powers of ten a [`short_decimal`] may scale by.
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1e3, 1e4];

/// `v` as `(negative, m, d)` with `|v| = m / 10^d` for the fewest decimals
/// `d` (at most 4) whose decimal reads back as exactly `v`, when
/// `m < 2^52`: then the text is the one `ryu` writes (its shortest
/// round-trip digits) without its tables. Below 2^52 the doubles around
/// `|v| * 10^d` are closer than 1 apart, so at most one `m` reads back as
/// `v`, and it is `trunc(|v| * 10^d)` or the next (the product is rounded
/// once); `m as f64 / 10^d` is rounded correctly, as a parser rounds the
/// decimal. `None`: `ryu`'s turn.
#[inline]
fn short_decimal(v: f64) -> Option<(bool, u64, usize)> {
    let a = if v < 0.0 { -v } else { v };
    let neg = v.is_sign_negative();
    for (d, p) in POW10.iter().enumerate() {
        let x = a * p;
        if x >= 4_503_599_627_370_496.0 {
            return None;
        }
        let m = x as u64;
        for m in [m, m + 1] {
            if m as f64 / p == a {
                return Some((neg, m, d));
            }
        }
    }
    None
}

/// Writes `m / 10^d` as `ryu` does: `42.0`, `42.5`, `0.0625`.
#[inline]
fn write_decimal(out: &mut Out<'_>, neg: bool, m: u64, d: usize) -> Result<(), Full> {
    const SCALE: [u64; 5] = [1, 10, 100, 1000, 10_000];
    let (int, mut frac) = (m / SCALE[d], m % SCALE[d]);
    if neg {
        out.push_byte(b'-')?;
    }
    if int < 100 {
        out.push_small(int as u8)?;
    } else {
        out.push(itoa::Buffer::new().format(int).as_bytes())?;
    }
    if d == 0 {
        return out.push_fixed(|b: &mut [u8; 2]| *b = *b".0");
    }
    let mut t = [b'.', b'0', b'0', b'0', b'0'];
    for i in (1..=d).rev() {
        t[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.push(&t[..=d])
}

macro_rules! int {
    ($name:ident, $t:ty, small) => {
        #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
        fn $name(self, v: $t) -> Result<(), SerError> {
            // Guests and devices: every width through one function, size
            // first.
            #[cfg(any(target_family = "wasm", target_os = "none"))]
            {
                let neg = (v as i128) < 0;
                let abs = if neg {
                    (v as i64).unsigned_abs()
                } else {
                    v as u64
                };
                self.int(neg, abs)
            }
            // Hosts: 0 to 99 without itoa, the rest at the type's own width.
            #[cfg(not(any(target_family = "wasm", target_os = "none")))]
            {
                self.enter(Kind::Number)?;
                if (0..100).contains(&v) {
                    self.out.push_small(v as u8)?;
                    return Ok(());
                }
                let mut b = itoa::Buffer::new();
                self.out.push(b.format(v).as_bytes())?;
                Ok(())
            }
        }
    };
    ($name:ident, $t:ty) => {
        #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
        fn $name(self, v: $t) -> Result<(), SerError> {
            self.enter(Kind::Number)?;
            let mut b = itoa::Buffer::new();
            self.out.push(b.format(v).as_bytes())?;
            Ok(())
        }
    };
}

impl<'o, 'b, 'k, 's> ser::Serializer for &'s mut Ser<'o, 'b, 'k> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Compound<'s, 'o, 'b, 'k>;
    type SerializeTuple = Compound<'s, 'o, 'b, 'k>;
    type SerializeTupleStruct = Compound<'s, 'o, 'b, 'k>;
    type SerializeTupleVariant = Compound<'s, 'o, 'b, 'k>;
    type SerializeMap = Compound<'s, 'o, 'b, 'k>;
    type SerializeStruct = Compound<'s, 'o, 'b, 'k>;
    type SerializeStructVariant = Compound<'s, 'o, 'b, 'k>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.enter(Kind::Bool)?;
        self.out.push(if v { b"true" } else { b"false" })?;
        Ok(())
    }
    int!(serialize_i8, i8, small);
    int!(serialize_i16, i16, small);
    int!(serialize_i32, i32, small);
    int!(serialize_i64, i64, small);
    int!(serialize_i128, i128);
    int!(serialize_u8, u8, small);
    int!(serialize_u16, u16, small);
    int!(serialize_u32, u32, small);
    int!(serialize_u64, u64, small);
    int!(serialize_u128, u128);
    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.float(v as f64, true)
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        self.float(v, false)
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        let mut b = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut b))
    }
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.enter(Kind::String)?;
        let start = self.out.len();
        json::write_str(self.out, v)?;
        if let (Find::Value, 1) = (self.find, self.r.depth) {
            self.find = Find::Found(start + 1, self.out.len() - 1);
        }
        Ok(())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), SerError> {
        self.enter(Kind::Array)?;
        Err(SerError::Bytes)
    }
    fn serialize_none(self) -> Result<(), SerError> {
        self.serialize_unit()
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), SerError> {
        self.enter(Kind::Null)?;
        self.out.push(b"null")?;
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let mut c = self.open_object()?;
        c.key_str(variant)?;
        value.serialize(&mut *c.ser)?;
        c.finish()
    }
    #[inline]
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        self.enter(Kind::Array)?;
        self.push_depth()?;
        self.out.push_byte(b'[')?;
        Ok(Compound {
            ser: self,
            first: true,
            flat: false,
            close: b"]",
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _n: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        let mut c = self.open_object()?;
        c.key_str(variant)?;
        c.ser.push_depth()?;
        c.ser.out.push_byte(b'[')?;
        Ok(Compound {
            ser: c.ser,
            first: true,
            flat: c.flat,
            close: if c.flat { b"]" } else { b"]}" },
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        self.open_object()
    }
    fn serialize_struct(
        self,
        _n: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        self.open_object()
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'o, 'b, 'k>, SerError> {
        let mut c = self.open_object()?;
        c.key_str(variant)?;
        c.ser.push_depth()?;
        c.ser.out.push_byte(b'{')?;
        Ok(Compound {
            ser: c.ser,
            first: true,
            flat: c.flat,
            close: if c.flat { b"}" } else { b"}}" },
        })
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), SerError> {
        self.enter(Kind::String)?;
        self.out.push_byte(b'"')?;
        let mut w = Escaper {
            out: &mut *self.out,
            full: false,
        };
        if write!(w, "{value}").is_err() {
            return Err(if w.full {
                SerError::Full
            } else {
                SerError::Custom(heapless::String::new())
            });
        }
        self.out.push_byte(b'"')?;
        Ok(())
    }
}

struct Escaper<'o, 'b> {
    out: &'o mut Out<'b>,
    full: bool,
}

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        json::write_str_contents(self.out, s).map_err(|_| {
            self.full = true;
            fmt::Error
        })
    }
}

/// An open array or object.
#[doc(hidden)]
pub struct Compound<'s, 'o, 'b, 'k> {
    ser: &'s mut Ser<'o, 'b, 'k>,
    first: bool,
    /// Flattened metadata (no braces of its own).
    flat: bool,
    close: &'static [u8],
}

impl Compound<'_, '_, '_, '_> {
    #[inline]
    fn comma(&mut self) -> Result<(), SerError> {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.push_byte(b',')?;
        }
        Ok(())
    }

    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn key_str(&mut self, k: &str) -> Result<(), SerError> {
        let ser = &mut *self.ser;
        match ser.find {
            Find::Key(want) if ser.r.depth == 1 && same(k, want) => ser.find = Find::Value,
            // The field's value was not written as a string.
            Find::Value if ser.r.depth == 1 => ser.find = Find::Absent,
            _ => {}
        }
        #[cfg(not(any(target_family = "wasm", target_os = "none")))]
        if json::is_plain(k.as_bytes()) {
            // `,"key":` in one step.
            let comma = !core::mem::take(&mut self.first);
            return self
                .ser
                .out
                .push_key(comma, k.as_bytes())
                .map_err(SerError::from);
        }
        self.comma()?;
        json::write_str(self.ser.out, k)?;
        self.ser.out.push_byte(b':')?;
        Ok(())
    }

    #[inline]
    fn finish(self) -> Result<(), SerError> {
        // `close` holds one byte per nesting level this compound opened
        // (variants open two; flattened metadata opens none).
        self.ser.out.push(self.close)?;
        self.ser.r.depth -= self.close.len();
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.comma()?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.comma()?;
        let start = self.ser.out.len();
        key.serialize(KeySer {
            out: &mut *self.ser.out,
        })?;
        let ser = &mut *self.ser;
        match ser.find {
            // The key as written (escaped, between its quotes) against the
            // one asked for; a counter holds no bytes (its type is counted
            // another way).
            Find::Key(want) if ser.r.depth == 1 => {
                let end = ser.out.len().saturating_sub(1);
                let written = ser.out.written().get(start + 1..end).unwrap_or(&[]);
                if !ser.out.is_counter() && json::unescaped_eq(written, want.as_bytes()) {
                    ser.find = Find::Value;
                }
            }
            Find::Value if ser.r.depth == 1 => ser.find = Find::Absent,
            _ => {}
        }
        self.ser.out.push_byte(b':')?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.key_str(key)?;
        value.serialize(&mut *self.ser)
    }
    #[inline]
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_, '_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.key_str(key)?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

/// Serializes map keys: strings (and chars, unit variants) only.
struct KeySer<'o, 'b> {
    out: &'o mut Out<'b>,
}

/// The methods of a map key's `Serializer` that refuse: JSON keys are
/// strings (the encoder's key serializer here, the tape's in `tape.rs`).
macro_rules! refuse_non_string_keys {
    () => {
        fn serialize_bool(self, _v: bool) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_i8(self, _v: i8) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_i16(self, _v: i16) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_i32(self, _v: i32) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_i64(self, _v: i64) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_u8(self, _v: u8) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_u16(self, _v: u16) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_u32(self, _v: u32) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_u64(self, _v: u64) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_f32(self, _v: f32) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_f64(self, _v: f64) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_bytes(self, _v: &[u8]) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_none(self) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_unit(self) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_unit_struct(self, _n: &'static str) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _n: &'static str,
            _i: u32,
            _v: &'static str,
            _value: &T,
        ) -> Result<(), SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_tuple_struct(
            self,
            _n: &'static str,
            _l: usize,
        ) -> Result<Self::SerializeTupleStruct, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_tuple_variant(
            self,
            _n: &'static str,
            _i: u32,
            _v: &'static str,
            _l: usize,
        ) -> Result<Self::SerializeTupleVariant, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_struct(
            self,
            _n: &'static str,
            _l: usize,
        ) -> Result<Self::SerializeStruct, SerError> {
            Err(SerError::NonStringKey)
        }
        fn serialize_struct_variant(
            self,
            _n: &'static str,
            _i: u32,
            _v: &'static str,
            _l: usize,
        ) -> Result<Self::SerializeStructVariant, SerError> {
            Err(SerError::NonStringKey)
        }
    };
}
#[cfg(feature = "alloc")]
pub(crate) use refuse_non_string_keys;

impl ser::Serializer for KeySer<'_, '_> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = ser::Impossible<(), SerError>;
    type SerializeTuple = ser::Impossible<(), SerError>;
    type SerializeTupleStruct = ser::Impossible<(), SerError>;
    type SerializeTupleVariant = ser::Impossible<(), SerError>;
    type SerializeMap = ser::Impossible<(), SerError>;
    type SerializeStruct = ser::Impossible<(), SerError>;
    type SerializeStructVariant = ser::Impossible<(), SerError>;

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        json::write_str(self.out, v)?;
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        let mut b = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut b))
    }
    fn serialize_unit_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), SerError> {
        self.out.push_byte(b'"')?;
        let mut w = Escaper {
            out: &mut *self.out,
            full: false,
        };
        if write!(w, "{value}").is_err() {
            return Err(if w.full {
                SerError::Full
            } else {
                SerError::Custom(heapless::String::new())
            });
        }
        self.out.push_byte(b'"')?;
        Ok(())
    }
    refuse_non_string_keys!();
}
