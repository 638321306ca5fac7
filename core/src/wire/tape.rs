//! The caller's compact copy of an event (feature `alloc`): the first half
//! of encoding off the caller's thread. [`Tape::record`] walks an event's
//! `Serialize` impl once, refuses exactly what the encoder refuses (the same
//! [`SerError`], at the same point), and keeps its values as they are:
//! numbers as numbers, strings copied unescaped, struct keys and variant
//! names by reference (they are `&'static str`). [`Replay`] hands the copy
//! to any serializer later, on another thread: through the core's encoder
//! it writes the very bytes the event itself would have written (tested
//! against it, `core/tests/tape.rs`). [`Tape::bound`] is at most that many
//! bytes more than the event's JSON needs, known without writing it.

use crate::wire::json::Kind;
use crate::wire::ser::{refuse_non_string_keys, Rules, SerError, Top};
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt::{self, Write as _};
use serde::ser::{self, Serialize};

/// One value or structure mark of a [`Tape`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Item {
    /// A map until its `End`.
    Obj,
    /// A struct (or a variant's wrapper) until its `End`: its keys are all
    /// `Key`s.
    Struct,
    /// An array until its `End`.
    Arr,
    /// Closes the innermost `Obj` or `Arr`.
    End,
    /// A key known for the program's life (a struct field, a variant).
    Key(&'static str),
    /// A map key, copied: `len` bytes at `at` of the tape's text.
    KeyText(u32, u32),
    /// A string known for the program's life (a unit variant's name).
    Static(&'static str),
    /// A string, copied: `len` bytes at `at` of the tape's text.
    Text(u32, u32),
    U64(u64),
    I64(i64),
    /// 16 bytes (little-endian) at this offset of the text.
    U128(u32),
    I128(u32),
    F32(f32),
    F64(f64),
    Bool(bool),
    Null,
}

/// An event copied for encoding later: its values, not their JSON.
/// Reused from event to event, it allocates only to grow.
#[derive(Default, Debug, Clone)]
pub struct Tape {
    items: Vec<Item>,
    text: Vec<u8>,
    bound: usize,
    kind: Option<Kind>,
}

impl Tape {
    /// An empty tape.
    pub const fn new() -> Self {
        Tape {
            items: Vec::new(),
            text: Vec::new(),
            bound: 0,
            kind: None,
        }
    }

    /// Copies `event` (which must be a JSON object or a string, as
    /// [`Encoder::encode_value`](crate::Encoder::encode_value) requires)
    /// into this tape, replacing what it held. On an error the tape is
    /// empty and the error is the one encoding `event` returns.
    pub fn record<T: Serialize + ?Sized>(&mut self, event: &T) -> Result<(), SerError> {
        self.record_as(event, Top::Event)
    }

    /// Copies caller metadata (an object, written flattened into
    /// `_metadata`), as the encoder's `meta` argument requires.
    pub fn record_meta<T: Serialize + ?Sized>(&mut self, meta: &T) -> Result<(), SerError> {
        self.record_as(meta, Top::Flatten)
    }

    fn record_as<T: Serialize + ?Sized>(&mut self, v: &T, top: Top) -> Result<(), SerError> {
        self.clear();
        let mut t = TapeSer {
            tape: self,
            r: Rules::new(top),
        };
        let r = v.serialize(&mut t);
        let kind = t.r.kind;
        match r {
            Ok(()) => {
                self.kind = Some(kind);
                Ok(())
            }
            Err(e) => {
                self.clear();
                Err(e)
            }
        }
    }

    /// Empties the tape (keeping its memory).
    pub fn clear(&mut self) {
        self.items.clear();
        self.text.clear();
        self.bound = 0;
        self.kind = None;
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
    }

    /// At least as many bytes as the recorded value's compact JSON (an
    /// upper bound: numbers at their widest, strings as if every byte were
    /// escaped).
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// The recorded value, to serialize (`None`: nothing recorded).
    pub fn replay(&self) -> Option<Replay<'_>> {
        self.kind.map(|_| Replay {
            items: &self.items,
            text: &self.text,
        })
    }

    /// Bytes this tape holds (its items and copied text).
    pub fn size(&self) -> usize {
        self.items.len() * core::mem::size_of::<Item>() + self.text.len()
    }

    #[inline(always)]
    fn push(&mut self, item: Item, bound: usize) {
        self.items.push(item);
        self.bound += bound;
    }

    /// Copies `s` into the text; returns where it went.
    #[inline(always)]
    fn copy(&mut self, s: &[u8]) -> (u32, u32) {
        let at = self.text.len() as u32;
        self.text.extend_from_slice(s);
        self.bound += str_bound(s);
        (at, s.len() as u32)
    }
}

/// The most bytes `s` takes as a JSON string, quotes included: 6 per byte
/// (`\u00XX`). (Not looked at: asking which bytes need escaping costs as
/// much as the copy.)
#[inline(always)]
fn str_bound(s: &[u8]) -> usize {
    s.len() * 6 + 2
}

/// Widest text of a number: `-9223372036854775808` is 20 bytes, a `u64`
/// 20, a float 25 (`-2.2250738585072014e-308`, or an exponent with `+`).
const NUM_BOUND: usize = 25;
const WIDE_BOUND: usize = 40;

/// The serializer filling a tape, with the encoder's rules.
struct TapeSer<'t> {
    tape: &'t mut Tape,
    r: Rules,
}

impl<'t> TapeSer<'t> {
    #[inline(always)]
    fn enter(&mut self, kind: Kind) -> Result<(), SerError> {
        self.r.enter(kind)
    }

    fn push_depth(&mut self) -> Result<(), SerError> {
        self.r.push_depth()
    }

    /// Opens an object, `item` (`Obj` or `Struct`; flattened metadata: no
    /// nesting level of its own).
    #[inline(always)]
    fn open_object(&mut self, item: Item) -> Result<TapeCompound<'_, 't>, SerError> {
        let flat = self.r.open_object()?;
        self.tape.push(item, 2);
        Ok(TapeCompound {
            ser: self,
            levels: !flat as u8,
            ends: 1,
        })
    }

    /// A float (`item`), refused when not `finite` as the encoder refuses
    /// it.
    #[inline(always)]
    fn float(&mut self, finite: bool, item: Item) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        if !finite {
            return Err(SerError::NonFiniteFloat);
        }
        self.tape.push(item, NUM_BOUND);
        Ok(())
    }

    /// A 128-bit number: its 16 bytes in the text, `item` says where.
    fn wide(&mut self, bytes: [u8; 16], item: fn(u32) -> Item) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        let at = self.tape.text.len() as u32;
        self.tape.text.extend_from_slice(&bytes);
        self.tape.push(item(at), WIDE_BOUND);
        Ok(())
    }

    /// A variant's wrapper object holding `variant`, then an inner array
    /// or object (`inner`).
    fn open_variant(
        &mut self,
        variant: &'static str,
        inner: Item,
    ) -> Result<TapeCompound<'_, 't>, SerError> {
        let c = self.open_object(Item::Struct)?;
        let levels = c.levels;
        c.ser.tape.push(Item::Key(variant), variant.len() * 6 + 4);
        c.ser.push_depth()?;
        c.ser.tape.push(inner, 2);
        Ok(TapeCompound {
            ser: c.ser,
            levels: levels + 1,
            ends: 2,
        })
    }
}

impl<'a, 't> ser::Serializer for &'a mut TapeSer<'t> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = TapeCompound<'a, 't>;
    type SerializeTuple = TapeCompound<'a, 't>;
    type SerializeTupleStruct = TapeCompound<'a, 't>;
    type SerializeTupleVariant = TapeCompound<'a, 't>;
    type SerializeMap = TapeCompound<'a, 't>;
    type SerializeStruct = TapeCompound<'a, 't>;
    type SerializeStructVariant = TapeCompound<'a, 't>;

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.enter(Kind::Bool)?;
        self.tape.push(Item::Bool(v), 5);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.serialize_i64(v as i64)
    }
    #[inline(always)]
    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.serialize_i64(v as i64)
    }
    #[inline(always)]
    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        self.tape.push(Item::I64(v), NUM_BOUND);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        self.wide(v.to_le_bytes(), Item::I128)
    }
    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.serialize_u64(v as u64)
    }
    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.serialize_u64(v as u64)
    }
    #[inline(always)]
    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.serialize_u64(v as u64)
    }
    #[inline(always)]
    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        self.enter(Kind::Number)?;
        self.tape.push(Item::U64(v), NUM_BOUND);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        self.wide(v.to_le_bytes(), Item::U128)
    }
    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.float(v.is_finite(), Item::F32(v))
    }
    #[inline(always)]
    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        self.float(v.is_finite(), Item::F64(v))
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        let mut b = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut b))
    }
    #[inline(always)]
    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.enter(Kind::String)?;
        let (at, len) = self.tape.copy(v.as_bytes());
        self.tape.push(Item::Text(at, len), 0);
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
        self.tape.push(Item::Null, 4);
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
        self.enter(Kind::String)?;
        self.tape
            .push(Item::Static(variant), str_bound(variant.as_bytes()));
        Ok(())
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
        let c = self.open_object(Item::Struct)?;
        c.ser
            .tape
            .push(Item::Key(variant), str_bound(variant.as_bytes()) + 2);
        value.serialize(&mut *c.ser)?;
        ser::SerializeStruct::end(c)
    }
    #[inline]
    fn serialize_seq(self, _len: Option<usize>) -> Result<TapeCompound<'a, 't>, SerError> {
        self.enter(Kind::Array)?;
        self.push_depth()?;
        self.tape.push(Item::Arr, 2);
        Ok(TapeCompound {
            ser: self,
            levels: 1,
            ends: 1,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<TapeCompound<'a, 't>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _n: &'static str,
        len: usize,
    ) -> Result<TapeCompound<'a, 't>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<TapeCompound<'a, 't>, SerError> {
        self.open_variant(variant, Item::Arr)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<TapeCompound<'a, 't>, SerError> {
        self.open_object(Item::Obj)
    }
    #[inline]
    fn serialize_struct(
        self,
        _n: &'static str,
        _len: usize,
    ) -> Result<TapeCompound<'a, 't>, SerError> {
        self.open_object(Item::Struct)
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<TapeCompound<'a, 't>, SerError> {
        self.open_variant(variant, Item::Struct)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), SerError> {
        self.enter(Kind::String)?;
        let (at, len) = self.tape.display(value)?;
        self.tape.push(Item::Text(at, len), 0);
        Ok(())
    }
}

impl Tape {
    /// Copies `value`'s `Display` text; returns where it went.
    fn display<T: fmt::Display + ?Sized>(&mut self, value: &T) -> Result<(u32, u32), SerError> {
        let at = self.text.len();
        struct Copy<'v>(&'v mut Vec<u8>);
        impl fmt::Write for Copy<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
        if write!(Copy(&mut self.text), "{value}").is_err() {
            return Err(SerError::Custom(heapless::String::new()));
        }
        let len = self.text.len() - at;
        self.bound += len * 6 + 2;
        Ok((at as u32, len as u32))
    }
}

/// An open array or object of a tape being filled.
#[doc(hidden)]
pub struct TapeCompound<'a, 't> {
    ser: &'a mut TapeSer<'t>,
    /// Nesting levels it opened (a variant's wrapper opens two, flattened
    /// metadata none).
    levels: u8,
    /// `End` marks it closes with.
    ends: u8,
}

impl TapeCompound<'_, '_> {
    #[inline(always)]
    fn finish(self) -> Result<(), SerError> {
        for _ in 0..self.ends {
            self.ser.tape.items.push(Item::End);
        }
        self.ser.r.depth -= self.levels as usize;
        Ok(())
    }

    #[inline(always)]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.ser.tape.bound += 1;
        value.serialize(&mut *self.ser)
    }

    #[inline(always)]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.ser
            .tape
            .push(Item::Key(key), str_bound(key.as_bytes()) + 2);
        value.serialize(&mut *self.ser)
    }
}

macro_rules! seq_like {
    ($tr:ident, $m:ident) => {
        impl ser::$tr for TapeCompound<'_, '_> {
            type Ok = ();
            type Error = SerError;
            #[inline(always)]
            fn $m<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
                self.element(value)
            }
            #[inline(always)]
            fn end(self) -> Result<(), SerError> {
                self.finish()
            }
        }
    };
}
seq_like!(SerializeSeq, serialize_element);
seq_like!(SerializeTuple, serialize_element);
seq_like!(SerializeTupleStruct, serialize_field);
seq_like!(SerializeTupleVariant, serialize_field);

macro_rules! struct_like {
    ($tr:ident) => {
        impl ser::$tr for TapeCompound<'_, '_> {
            type Ok = ();
            type Error = SerError;
            #[inline(always)]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), SerError> {
                self.field(key, value)
            }
            #[inline(always)]
            fn end(self) -> Result<(), SerError> {
                self.finish()
            }
        }
    };
}
struct_like!(SerializeStruct);
struct_like!(SerializeStructVariant);

impl ser::SerializeMap for TapeCompound<'_, '_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        key.serialize(KeySer {
            tape: &mut *self.ser.tape,
        })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

/// Map keys: strings (and chars, unit variants) only, as the encoder takes.
struct KeySer<'t> {
    tape: &'t mut Tape,
}

impl KeySer<'_> {
    fn text(self, s: &[u8]) -> Result<(), SerError> {
        let (at, len) = self.tape.copy(s);
        self.tape.push(Item::KeyText(at, len), 2);
        Ok(())
    }
}

impl ser::Serializer for KeySer<'_> {
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
        self.text(v.as_bytes())
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        let mut b = [0u8; 4];
        self.text(v.encode_utf8(&mut b).as_bytes())
    }
    fn serialize_unit_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        self.tape
            .push(Item::Key(variant), str_bound(variant.as_bytes()) + 2);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), SerError> {
        let (at, len) = self.tape.display(value)?;
        self.tape.push(Item::KeyText(at, len), 2);
        Ok(())
    }
    refuse_non_string_keys!();
}

/// A recorded value, to serialize (as often as asked): every object as a
/// map (struct keys and variant names as its keys, which the encoder writes
/// and notes exactly as it does a struct's), every array as a sequence.
#[derive(Clone, Copy)]
pub struct Replay<'t> {
    items: &'t [Item],
    text: &'t [u8],
}

impl core::fmt::Debug for Replay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Replay")
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl Serialize for Replay<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Cursor {
            r: *self,
            at: Cell::new(0),
        }
        .serialize(s)
    }
}

impl<'t> Replay<'t> {
    fn text(&self, at: u32, len: u32) -> &'t str {
        let b = self
            .text
            .get(at as usize..at as usize + len as usize)
            .unwrap_or(&[]);
        // Copied from a `str` (or a `Display`'s `str` pieces): valid.
        core::str::from_utf8(b).unwrap_or("")
    }

    fn wide(&self, at: u32) -> [u8; 16] {
        let mut w = [0u8; 16];
        if let Some(b) = self.text.get(at as usize..at as usize + 16) {
            w.copy_from_slice(b);
        }
        w
    }
}

/// Where a replay is in its tape.
struct Cursor<'t> {
    r: Replay<'t>,
    at: Cell<usize>,
}

impl Cursor<'_> {
    fn next(&self) -> Option<Item> {
        let i = self.at.get();
        let item = self.r.items.get(i).copied();
        self.at.set(i + 1);
        item
    }

    fn peek(&self) -> Option<Item> {
        self.r.items.get(self.at.get()).copied()
    }
}

impl Serialize for Cursor<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::Error as _;
        let t = self.r;
        // (Each compound in a function of its own: a nesting level's stack
        // frame holds one, so 127 levels fit a thread's stack.)
        match self.next() {
            Some(Item::Obj) => self.map(s),
            Some(Item::Struct) => self.fields(s),
            Some(Item::Arr) => self.seq(s),
            Some(Item::Static(v)) => s.serialize_str(v),
            Some(Item::Text(a, n)) => s.serialize_str(t.text(a, n)),
            Some(Item::U64(v)) => s.serialize_u64(v),
            Some(Item::I64(v)) => s.serialize_i64(v),
            Some(Item::U128(a)) => s.serialize_u128(u128::from_le_bytes(t.wide(a))),
            Some(Item::I128(a)) => s.serialize_i128(i128::from_le_bytes(t.wide(a))),
            Some(Item::F32(v)) => s.serialize_f32(v),
            Some(Item::F64(v)) => s.serialize_f64(v),
            Some(Item::Bool(v)) => s.serialize_bool(v),
            Some(Item::Null) => s.serialize_unit(),
            _ => Err(S::Error::custom("tape: a value was expected")),
        }
    }
}

impl Cursor<'_> {
    #[inline(never)]
    fn map<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{Error as _, SerializeMap as _};
        let mut m = s.serialize_map(None)?;
        loop {
            match self.next() {
                Some(Item::End) => break,
                Some(Item::Key(k)) => m.serialize_key(k)?,
                Some(Item::KeyText(a, n)) => m.serialize_key(self.r.text(a, n))?,
                _ => return Err(S::Error::custom("tape: a key was expected")),
            }
            m.serialize_value(self)?;
        }
        m.end()
    }

    #[inline(never)]
    fn fields<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{Error as _, SerializeStruct as _};
        let mut m = s.serialize_struct("", 0)?;
        loop {
            match self.next() {
                Some(Item::End) => break,
                Some(Item::Key(k)) => m.serialize_field(k, self)?,
                _ => return Err(S::Error::custom("tape: a field was expected")),
            }
        }
        m.end()
    }

    #[inline(never)]
    fn seq<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{Error as _, SerializeSeq as _};
        let mut q = s.serialize_seq(None)?;
        while self.peek() != Some(Item::End) {
            if self.peek().is_none() {
                return Err(S::Error::custom("tape: an array was cut"));
            }
            q.serialize_element(self)?;
        }
        self.next();
        q.end()
    }
}
