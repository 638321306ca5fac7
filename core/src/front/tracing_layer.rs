//! `tracing` as a front door (feature `tracing`): a
//! [`Layer`](tracing_subscriber::Layer) that reports every `tracing` event
//! through an [`Sdk`], one JSON event each (see [`TracingLayer`]).

use crate::api::platform::Platform;
use crate::api::sdk::Sdk;
use crate::front::log_event::{is_own, report_log, Fields, LogEvent, SpanFields, Value};
use core::fmt::Debug;
use std::format;
use std::string::ToString;
use std::vec::Vec;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Reports each `tracing` event as one event: its fields (the message under
/// `message`), `level`, `target`, and `spans` (each span it happened in,
/// root first: its `name` and fields). The event type is the event's
/// target, or the string value of a chosen field
/// ([`event_type_field`](Self::event_type_field)) when the event has it.
/// `calling_file` and `calling_line` in the metadata are where the event
/// was made. Delivery, buffering and counts are those of
/// [`Sdk::report`]; an event the SDK refuses is counted and notified as a
/// `report` would be. The SDK's own diagnostics (target `alooma`) are not
/// reported.
///
/// Both SDKs name it for their own platform (`alooma::TracingLayer`,
/// `alooma_wasm::TracingLayer`). One line at start-up, for either:
///
/// ```
/// use alooma_core::{Platform, Sdk, TracingLayer};
/// use tracing_subscriber::prelude::*;
///
/// fn start<P: Platform + Clone + Send + Sync + 'static>(sdk: &Sdk<P>) {
///     tracing_subscriber::registry()
///         .with(TracingLayer::new(sdk.clone()))
///         .init();
///     tracing::info!(user = "ann", amount = 12, "purchase");
/// }
/// ```
#[derive(Clone)]
pub struct TracingLayer<P> {
    sdk: Sdk<P>,
    type_field: Option<&'static str>,
}

impl<P: Platform> Debug for TracingLayer<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TracingLayer")
            .field("sdk", &self.sdk)
            .field("type_field", &self.type_field)
            .finish()
    }
}

impl<P: Platform> TracingLayer<P> {
    /// A layer reporting through `sdk`; event type: the event's target.
    pub fn new(sdk: Sdk<P>) -> Self {
        TracingLayer {
            sdk,
            type_field: None,
        }
    }

    /// Event type from this field of the event, when it has it as a string
    /// (else the target).
    pub fn event_type_field(mut self, name: &'static str) -> Self {
        self.type_field = Some(name);
        self
    }
}

/// Records a call's fields.
struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.set(f.name(), Value::Str(v.to_string()));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.set(f.name(), Value::I64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.set(f.name(), Value::U64(v));
    }
    fn record_i128(&mut self, f: &Field, v: i128) {
        let v = i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::I64);
        self.0.set(f.name(), v);
    }
    fn record_u128(&mut self, f: &Field, v: u128) {
        let v = u64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::U64);
        self.0.set(f.name(), v);
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.set(f.name(), Value::F64(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.set(f.name(), Value::Bool(v));
    }
    fn record_error(&mut self, f: &Field, e: &(dyn std::error::Error + 'static)) {
        self.0.set(f.name(), Value::Str(e.to_string()));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn Debug) {
        self.0.set(f.name(), Value::Str(format!("{v:?}")));
    }
}

impl<S, P> Layer<S> for TracingLayer<P>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    P: Platform + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut Visitor(&mut fields));
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(&mut Visitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if is_own(meta.target()) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut Visitor(&mut fields));
        let spans: Vec<SpanFields> = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| SpanFields {
                        name: span.name(),
                        fields: span
                            .extensions()
                            .get::<Fields>()
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let type_name = match self.type_field.and_then(|f| fields.get(f)) {
            Some(Value::Str(s)) => s.clone(),
            _ => meta.target().to_string(),
        };
        let level = meta.level().as_str();
        let ev = LogEvent {
            fields: &fields,
            level,
            target: meta.target(),
            spans: &spans,
        };
        // A refusal is counted and notified by the SDK, as for `report`.
        let _ = report_log(&self.sdk, &ev, &type_name, meta.file(), meta.line());
    }
}
