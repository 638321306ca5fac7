//! What the `tracing` and `log` front doors report: one JSON event per
//! logging call, made of its fields (the message included), its level and
//! target (and with `tracing`, its spans and their fields), reported with
//! every guarantee of [`Sdk::report`](crate::Sdk::report) (features
//! `tracing`, `log`). Where the call
//! was made goes into the record's metadata (`calling_file`,
//! `calling_line`), as `report` puts its own caller there.

use crate::api::error::ReportError;
use crate::api::platform::Platform;
use crate::api::sdk::Sdk;
use crate::wire::envelope::Encoder;
use crate::wire::event_type::EventType;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::borrow::Cow;
use std::string::String;
use std::vec::Vec;

/// A field's value, as the logging call recorded it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Str(v) => s.serialize_str(v),
            Value::I64(v) => s.serialize_i64(*v),
            Value::U64(v) => s.serialize_u64(*v),
            // JSON has no NaN or infinity: they are written as text.
            Value::F64(v) if !v.is_finite() => s.collect_str(v),
            Value::F64(v) => s.serialize_f64(*v),
            Value::Bool(v) => s.serialize_bool(*v),
        }
    }
}

/// Named values in the order they were recorded; a name recorded again
/// replaces its value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(Vec<(Cow<'static, str>, Value)>);

impl Fields {
    pub fn set(&mut self, name: impl Into<Cow<'static, str>>, v: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => self.0.push((name, v)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

/// A span the event happened in: its name and fields.
#[derive(Debug, Clone)]
pub(crate) struct SpanFields {
    pub name: &'static str,
    pub fields: Fields,
}

impl Serialize for SpanFields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name)?;
        for (k, v) in &self.fields.0 {
            if k != "name" {
                m.serialize_entry(k.as_ref(), v)?;
            }
        }
        m.end()
    }
}

/// One logging call as an event: the call's fields at the top, then
/// `level`, `target` and (when inside spans) `spans`, root first; a field
/// of the call with one of those names wins.
pub(crate) struct LogEvent<'a> {
    pub fields: &'a Fields,
    pub level: &'a str,
    pub target: &'a str,
    pub spans: &'a [SpanFields],
}

impl Serialize for LogEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in &self.fields.0 {
            m.serialize_entry(k.as_ref(), v)?;
        }
        if !self.fields.has("level") {
            m.serialize_entry("level", self.level)?;
        }
        if !self.fields.has("target") {
            m.serialize_entry("target", self.target)?;
        }
        if !self.spans.is_empty() && !self.fields.has("spans") {
            m.serialize_entry("spans", self.spans)?;
        }
        m.end()
    }
}

/// Where the logging call was made: the record's `calling_file` and
/// `calling_line` (each when known).
struct Origin<'a> {
    calling_file: Option<&'a str>,
    calling_line: Option<u32>,
}

impl Serialize for Origin<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(f) = self.calling_file {
            m.serialize_entry("calling_file", f)?;
        }
        if let Some(l) = self.calling_line {
            m.serialize_entry("calling_line", &l)?;
        }
        m.end()
    }
}

/// Reports `event` through `sdk` with event type `type_name`, made at
/// `file`:`line`.
pub(crate) fn report_log<P: Platform>(
    sdk: &Sdk<P>,
    event: &LogEvent<'_>,
    type_name: &str,
    file: Option<&str>,
    line: Option<u32>,
) -> Result<(), ReportError> {
    let origin = Origin {
        calling_file: file,
        calling_line: line,
    };
    crate::api::front::report(sdk.platform(), None, |enc, stamp, out| {
        let enc = Encoder {
            event_type: EventType::Fixed(type_name),
            ..*enc
        };
        enc.encode_value(event, Some(&origin), stamp, out)
    })
}

/// True for the SDK's own diagnostics (feature `tracing` sends them to
/// `tracing`): never reported back into the SDK, which could loop.
pub(crate) fn is_own(target: &str) -> bool {
    target == "alooma" || target.starts_with("alooma::")
}
