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
use crate::wire::event_type::{EventType, TypeName, MAX_TYPE_BYTES};
use crate::wire::json::{self, JsonView, Kind};
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

/// The loss marker's event fields.
struct LossEvent<'a>(&'a crate::buffer::loss::Loss);

impl Serialize for LossEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let l = self.0;
        let hex = l.instance_hex();
        let mut st = s.serialize_struct("alooma_loss", 8)?;
        // Hex digits only: always valid UTF-8.
        st.serialize_field("instance", core::str::from_utf8(&hex).unwrap_or(""))?;
        st.serialize_field("seq", &l.seq)?;
        st.serialize_field("refused", &l.refused)?;
        st.serialize_field("dropped_oldest", &l.dropped_oldest)?;
        st.serialize_field("unconfirmed", &l.unconfirmed)?;
        if let (Some(a), Some(b)) = (l.first_ms, l.last_ms) {
            st.serialize_field("first_ms", &a)?;
            st.serialize_field("last_ms", &b)?;
        }
        if l.any_recovery() {
            st.serialize_field("recovered", &l.recovered)?;
            st.serialize_field("damaged", &l.damaged)?;
            st.serialize_field("damaged_bytes", &l.damaged_bytes)?;
        }
        st.end()
    }
}

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
        // A top-level field naming the type is noted while it is written.
        let key = match self.event_type {
            // (A byte loop: `contains` would link `memchr` on devices.)
            EventType::Field(path) if !path.bytes().any(|b| b == b'.') => Some(path),
            _ => None,
        };
        self.encode_with(
            |o| ser::to_out_finding(event, o, Top::Event, key).map_err(EncodeError::from),
            meta,
            stamp,
            out,
        )
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
        enc.encode_value(&LossEvent(loss), NO_META, stamp, out)
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
        self.encode_with(
            |o| match json::compact(text, o) {
                Ok(Kind::Object) => Ok((Kind::Object, Found::Unknown)),
                Ok(Kind::String) => Ok((Kind::String, Found::Unknown)),
                Ok(k) => Err(EncodeError::NotObjectOrString(k)),
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
        F: FnOnce(&mut Out<'_>) -> Result<(Kind, Found), EncodeError>,
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
                self.metadata(out, s..e, found, stamp, meta, false)?;
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
                self.metadata(out, s..e, found, stamp, meta, true)?;
                out.push(b"}}")?;
            }
        }
        out.push_byte(b'\n')?;
        Ok(out.len() - start)
    }

    /// Writes the metadata fields (`first`: no comma before the first one).
    fn metadata<M: Serialize + ?Sized>(
        &self,
        out: &mut Out<'_>,
        event: core::ops::Range<usize>,
        found: Found,
        stamp: &Stamp,
        meta: Option<&M>,
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
            out.push(itoa::Buffer::new().format(loc.line()).as_bytes())?;
        }
        if let Some(m) = meta {
            ser::to_out(m, out, Top::Flatten).map_err(EncodeError::from)?;
        }
        Ok(())
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
        // A name read from the event is already in `out`: copied from there
        // (no temporary); a name from elsewhere is escaped aside first.
        let mut name = [0u8; MAX_TYPE_BYTES];
        let mut n = Out::new(&mut name);
        // A counter holds no bytes; only Field/With read them (handled above).
        let ev0 = event.start;
        let written = out.written().get(event).unwrap_or(&[]);
        let base = written.as_ptr() as usize;
        let view = JsonView::new(written);
        let resolved = match self.event_type.resolve(view) {
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
