//! The wire format: one compact JSON record per line (NDJSON), in one of
//! three envelopes, with the seed SDK's metadata.
//!
//! - [`Envelope::Metadata`] (default): the event's own fields at top level
//!   plus `"_metadata":{…}`; a string event goes under `"message"`.
//! - [`Envelope::Wrapped`]: the seed SDK's format, metadata at top level and
//!   the event under `"message"`.
//! - [`Envelope::Raw`]: the event alone.
//!
//! Key order inside a record is not significant in JSON; the event always
//! comes first so its type can be read back from it without a second pass.

use crate::api::error::EncodeError;
#[cfg(feature = "read-back")]
use crate::wire::event_type::TypeName;
use crate::wire::event_type::{EventType, MAX_TYPE_BYTES};
#[cfg(feature = "read-back")]
use crate::wire::json::JsonView;
use crate::wire::json::{self, Kind};
use crate::wire::out::Out;
use crate::wire::ser::{self, Found, Top};
use crate::wire::stamp::Stamp;
use serde::Serialize;

/// `input_type` written in every record's metadata.
pub const INPUT_TYPE: &str = "Rust SDK";

/// Record layout on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// Event fields at top level plus `"_metadata"`.
    #[default]
    Metadata,
    /// Seed SDK format: metadata at top level, event under `"message"`.
    Wrapped,
    /// The event alone.
    Raw,
}

/// Encodes events into wire records. Borrows the configuration's strings.
#[derive(Clone, Copy)]
pub struct Encoder<'a> {
    /// Record layout.
    pub envelope: Envelope,
    /// Input token (secret: never shown by `Debug`).
    pub token: &'a str,
    /// Input label; also the fallback event type.
    pub input_label: &'a str,
    /// How each event's type is chosen.
    pub event_type: EventType<'a>,
    /// The metadata every record carries the same (`input_label`,
    /// `input_type`, `token`), as [`write_fixed`](Self::write_fixed) wrote
    /// it once for these settings; `None`: written for each record.
    pub fixed: Option<&'a [u8]>,
}

impl core::fmt::Debug for Encoder<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encoder")
            .field("envelope", &self.envelope)
            .field("token", &"<redacted>")
            .field("input_label", &self.input_label)
            .field("event_type", &self.event_type)
            .finish()
    }
}

/// The event type of the in-band loss marker record.
pub const LOSS_EVENT_TYPE: &str = "alooma_loss";

/// Writes the loss marker's event (`{"instance":"…","seq":…,…}`) without
/// serde: ASCII keys and integers, one loop, one copy on a device.
fn write_loss(
    l: &crate::buffer::loss::Loss,
    o: &mut Out<'_>,
) -> Result<(Kind, Found), EncodeError> {
    o.push(b"{\"instance\":\"")?;
    o.push(&l.instance_hex())?;
    o.push_byte(b'"')?;
    let span = l.first_ms.is_some() && l.last_ms.is_some();
    // The keys in order, each ended by a space; `shown`: one bit per key.
    const KEYS: &[u8] =
        b"seq refused dropped_oldest unconfirmed first_ms last_ms recovered damaged damaged_bytes ";
    let values = [
        l.seq,
        l.refused,
        l.dropped_oldest,
        l.unconfirmed,
        l.first_ms.unwrap_or(0),
        l.last_ms.unwrap_or(0),
        l.recovered,
        l.damaged,
        l.damaged_bytes,
    ];
    let shown = 0b1111 | (span as u32 * 0b11) << 4 | (l.any_recovery() as u32 * 0b111) << 6;
    let mut digits = [0u8; 20];
    let (mut start, mut i) = (0, 0);
    for (at, &b) in KEYS.iter().enumerate() {
        if b != b' ' {
            continue;
        }
        if shown >> i & 1 != 0 {
            o.push(b",\"")?;
            o.push(KEYS.get(start..at).unwrap_or_default())?;
            o.push(b"\":")?;
            o.push(crate::wire::num::decimal(
                values.get(i).copied().unwrap_or(0),
                &mut digits,
            ))?;
        }
        start = at + 1;
        i += 1;
    }
    o.push_byte(b'}')?;
    Ok((Kind::Object, Found::Unknown))
}

/// What writes an event in the envelope: its kind, and the type field
/// found (called through `dyn` on guests and devices).
#[cfg(any(target_family = "wasm", target_os = "none"))]
type WriteEvent<'f> = dyn FnMut(&mut Out<'_>) -> Result<(Kind, Found), EncodeError> + 'f;
/// What writes the caller's metadata in the envelope.
#[cfg(any(target_family = "wasm", target_os = "none"))]
type WriteMeta<'f> = dyn FnMut(&mut Out<'_>) -> Result<(), EncodeError> + 'f;

/// No caller metadata (for the `meta` argument of the encode functions).
pub const NO_META: Option<&()> = None;

impl<'a> Encoder<'a> {
    /// Encodes a serializable event (a JSON object or string) as one record,
    /// newline included. Returns the record's length.
    pub fn encode_value<T, M>(
        &self,
        event: &T,
        meta: Option<&M>,
        stamp: &Stamp,
        out: &mut Out<'_>,
    ) -> Result<usize, EncodeError>
    where
        T: Serialize + ?Sized,
        M: Serialize + ?Sized,
    {
        let key = self.noted_key();
        self.encode_with(
            |o| ser::to_out_finding(event, o, Top::Event, key).map_err(EncodeError::from),
            meta,
            stamp,
            out,
        )
    }

    /// The top-level field naming the type, noted while the event is
    /// written (a dotted path is read back from the encoded event).
    fn noted_key(&self) -> Option<&'a str> {
        match self.event_type {
            // (A byte loop: `contains` would link `memchr` on devices.)
            EventType::Field(path) if !path.bytes().any(|b| b == b'.') => Some(path),
            _ => None,
        }
    }

    /// Encodes the in-band loss marker for `loss` as one record: event type
    /// [`LOSS_EVENT_TYPE`], fields `instance` (16 hex digits), `seq`,
    /// `refused`, `dropped_oldest`, `unconfirmed` (totals since start) and,
    /// when known, `first_ms`/`last_ms` (the latest episode's time span,
    /// Unix ms). Stamp it with [`Loss::stamp`](crate::Loss::stamp) so that
    /// it is the same bytes each time it is written.
    pub fn encode_loss(
        &self,
        loss: &crate::buffer::loss::Loss,
        stamp: &Stamp,
        out: &mut Out<'_>,
    ) -> Result<usize, EncodeError> {
        let enc = Encoder {
            event_type: EventType::Fixed(LOSS_EVENT_TYPE),
            ..*self
        };
        enc.encode_with(|o| write_loss(loss, o), NO_META, stamp, out)
    }

    /// Validates JSON text strictly and encodes it (compacted) as one
    /// record, newline included. Returns the record's length.
    pub fn encode_json<M>(
        &self,
        text: &[u8],
        meta: Option<&M>,
        stamp: &Stamp,
        out: &mut Out<'_>,
    ) -> Result<usize, EncodeError>
    where
        M: Serialize + ?Sized,
    {
        let key = self.noted_key();
        self.encode_with(
            |o| match json::compact_finding(text, o, key) {
                Ok((Kind::Object, found)) => Ok((Kind::Object, found)),
                Ok((Kind::String, _)) => Ok((Kind::String, Found::Unknown)),
                Ok((k, _)) => Err(EncodeError::NotObjectOrString(k)),
                Err(json::CompactError::Full) => Err(EncodeError::Full),
                Err(json::CompactError::Json(e)) => Err(EncodeError::InvalidJson(e)),
            },
            meta,
            stamp,
            out,
        )
    }

    fn encode_with<M, F>(
        &self,
        event: F,
        meta: Option<&M>,
        stamp: &Stamp,
        out: &mut Out<'_>,
    ) -> Result<usize, EncodeError>
    where
        M: Serialize + ?Sized,
        F: FnMut(&mut Out<'_>) -> Result<(Kind, Found), EncodeError>,
    {
        let write_meta = |o: &mut Out<'_>| match meta {
            Some(m) => ser::to_out(m, o, Top::Flatten)
                .map(|_| ())
                .map_err(EncodeError::from),
            None => Ok(()),
        };
        // Guests and devices: one copy of the envelope for every event type
        // (called through `dyn`); hosts: one per type, inlined, for speed.
        #[cfg(any(target_family = "wasm", target_os = "none"))]
        {
            let (mut event, mut write_meta) = (event, write_meta);
            let event: &mut WriteEvent<'_> = &mut event;
            let write_meta: &mut WriteMeta<'_> = &mut write_meta;
            self.envelop(event, write_meta, stamp, out)
        }
        #[cfg(not(any(target_family = "wasm", target_os = "none")))]
        self.envelop(event, write_meta, stamp, out)
    }

    /// The envelope around the event `event` writes, with the caller's
    /// metadata `write_meta` writes.
    #[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
    fn envelop<F, W>(
        &self,
        mut event: F,
        write_meta: W,
        stamp: &Stamp,
        out: &mut Out<'_>,
    ) -> Result<usize, EncodeError>
    where
        F: FnMut(&mut Out<'_>) -> Result<(Kind, Found), EncodeError>,
        W: FnMut(&mut Out<'_>) -> Result<(), EncodeError>,
    {
        let start = out.len();
        match self.envelope {
            Envelope::Raw => {
                event(out)?;
            }
            Envelope::Wrapped => {
                out.push(b"{\"message\":")?;
                let s = out.len();
                let (_, found) = event(out)?;
                let e = out.len();
                self.metadata(out, s..e, found, stamp, write_meta, false)?;
                out.push_byte(b'}')?;
            }
            Envelope::Metadata => {
                let mut s = out.len();
                let (kind, mut found) = event(out)?;
                let e;
                if kind == Kind::Object {
                    e = out.len();
                    // Reopen the object: drop its '}' and append our field.
                    out.truncate(e - 1);
                    if e - s > 2 {
                        out.push_byte(b',')?;
                    }
                } else {
                    const PREFIX: &[u8] = b"{\"message\":";
                    out.insert_at(s, PREFIX)?;
                    s += PREFIX.len();
                    found = Found::Unknown;
                    e = out.len();
                    out.push_byte(b',')?;
                }
                out.push(b"\"_metadata\":{")?;
                self.metadata(out, s..e, found, stamp, write_meta, true)?;
                out.push(b"}}")?;
            }
        }
        out.push_byte(b'\n')?;
        Ok(out.len() - start)
    }

    /// Writes the metadata fields (`first`: no comma before the first one).
    fn metadata<W: FnMut(&mut Out<'_>) -> Result<(), EncodeError>>(
        &self,
        out: &mut Out<'_>,
        event: core::ops::Range<usize>,
        found: Found,
        stamp: &Stamp,
        mut write_meta: W,
        first: bool,
    ) -> Result<(), EncodeError> {
        out.push(if first {
            b"\"event_type\":"
        } else {
            b",\"event_type\":"
        })?;
        match found {
            // The type field's value, noted while the event was written.
            Found::Str(a, b) if !out.is_counter() && b - a <= MAX_TYPE_BYTES => {
                out.push_byte(b'"')?;
                out.push_within(a..b)?;
                out.push_byte(b'"')?;
            }
            // No such field: the input label, as reading back would find.
            Found::Absent if !out.is_counter() => {
                out.push_byte(b'"')?;
                json::write_str_contents(out, self.input_label)?;
                out.push_byte(b'"')?;
            }
            _ => self.event_type(out, event)?,
        }
        match self.fixed {
            Some(f) => out.push(f)?,
            None => self.write_fixed(out)?,
        }
        #[cfg(feature = "stamps")]
        if let Some(t) = stamp.time {
            const K: &[u8; 16] = b",\"report_time\":\"";
            out.push_fixed(|b: &mut [u8; 41]| {
                b[..16].copy_from_slice(K);
                b[16..40].copy_from_slice(&crate::wire::stamp::time_text(t));
                b[40] = b'"';
            })?;
        }
        #[cfg(feature = "stamps")]
        if let Some(u) = stamp.uuid {
            const K: &[u8; 10] = b",\"@uuid\":\"";
            out.push_fixed(|b: &mut [u8; 47]| {
                b[..10].copy_from_slice(K);
                b[10..46].copy_from_slice(&crate::wire::stamp::uuid_text(u));
                b[46] = b'"';
            })?;
        }
        if let Some(loc) = stamp.location {
            out.push(b",\"calling_file\":")?;
            json::write_str(out, loc.file())?;
            out.push(b",\"calling_line\":")?;
            out.push(crate::wire::num::decimal(loc.line() as u64, &mut [0u8; 20]))?;
        }
        write_meta(out)
    }

    /// Writes the metadata every record carries the same:
    /// `,"input_label":…,"input_type":…,"token":…`.
    pub fn write_fixed(&self, out: &mut Out<'_>) -> Result<(), crate::wire::out::Full> {
        out.push(b",\"input_label\":")?;
        json::write_str(out, self.input_label)?;
        out.push(b",\"input_type\":\"")?;
        out.push(INPUT_TYPE.as_bytes())?;
        out.push(b"\",\"token\":")?;
        json::write_str(out, self.token)
    }

    fn event_type(
        &self,
        out: &mut Out<'_>,
        event: core::ops::Range<usize>,
    ) -> Result<(), EncodeError> {
        if self.event_type.reads_event() && out.is_counter() {
            // Counting only: the event is not stored, so its type cannot be
            // read back. Count an empty name and note how much more it may be.
            let mut label = Out::counter(usize::MAX);
            let _ = json::write_str_contents(&mut label, self.input_label);
            out.add_slack(MAX_TYPE_BYTES.max(label.len()));
            out.push(b"\"\"")?;
            return Ok(());
        }
        // A name that is not the event's: written in place, the input label
        // instead when it is too long.
        let other = match self.event_type {
            EventType::Fixed(s) => Some(s),
            // Without `read-back` nothing else is known here: the label.
            #[cfg(not(feature = "read-back"))]
            _ => None,
            #[cfg(feature = "read-back")]
            EventType::InputLabel => None,
            #[cfg(feature = "read-back")]
            _ => return self.read_back_type(out, event),
        };
        let _ = event;
        let mut c = Out::counter(MAX_TYPE_BYTES);
        let name = match other {
            Some(s) if json::write_str_contents(&mut c, s).is_ok() => s,
            _ => self.input_label,
        };
        out.push_byte(b'"')?;
        json::write_str_contents(out, name)?;
        out.push_byte(b'"')?;
        Ok(())
    }

    /// The event type read back from the encoded event (a dotted path, a
    /// type function).
    #[cfg(feature = "read-back")]
    fn read_back_type(
        &self,
        out: &mut Out<'_>,
        event: core::ops::Range<usize>,
    ) -> Result<(), EncodeError> {
        // A name read from the event is already in `out`: copied from there
        // (no temporary); a name from elsewhere is escaped aside first.
        let mut name = [0u8; MAX_TYPE_BYTES];
        let mut n = Out::new(&mut name);
        // A counter holds no bytes; only Field/With read them (handled above).
        let ev0 = event.start;
        let written = out.written().get(event).unwrap_or(&[]);
        let base = written.as_ptr() as usize;
        let typ = self.event_type.resolve(JsonView::new(written));
        let resolved = match typ {
            Some(TypeName::Text(s)) => json::write_str_contents(&mut n, s).is_ok().then_some(None),
            Some(TypeName::Json(s)) => {
                let e = s.as_escaped();
                // Where it lies in `out` (it borrows from the event's bytes).
                let at = (e.as_ptr() as usize).wrapping_sub(base);
                if e.len() > MAX_TYPE_BYTES {
                    None
                } else if at <= written.len() && e.len() <= written.len() - at {
                    Some(Some(at..at + e.len()))
                } else {
                    // Not from this event (a type function's own string).
                    n.push(e).ok().map(|_| None)
                }
            }
            None => None,
        };
        out.push_byte(b'"')?;
        match resolved {
            Some(Some(r)) => out.push_within(r.start + ev0..r.end + ev0)?,
            Some(None) => {
                let len = n.len();
                out.push(&name[..len])?;
            }
            None => json::write_str_contents(out, self.input_label)?,
        }
        out.push_byte(b'"')?;
        Ok(())
    }
}
