//! `log` as a front door (feature `log`): a [`log::Log`] that reports every
//! log record through an [`Sdk`], one JSON event each (see [`Logger`]).

use crate::api::platform::Platform;
use crate::api::sdk::Sdk;
use crate::front::log_event::{is_own, report_log, Fields, LogEvent, Value};
use core::time::Duration;
use log::kv::{Error, Key, VisitSource};
use std::boxed::Box;
use std::string::ToString;

/// Reports each `log` record as one event: `message`, the record's
/// key-values, `level` and `target`; event type: the target.
/// `calling_file` and `calling_line` in the metadata are where the record
/// was made. Delivery, buffering and counts are those of
/// [`Sdk::report`]; `log::logger().flush()` waits up to 1 s for delivery.
/// The SDK's own diagnostics (target `alooma`) are not reported.
///
/// Both SDKs name it for their own platform (`alooma::Logger`,
/// `alooma_wasm::Logger`). One line at start-up, for either:
///
/// ```
/// use alooma_core::{Logger, Platform, Sdk};
///
/// fn start<P: Platform + Clone + Send + Sync + 'static>(sdk: &Sdk<P>) {
///     let _ = Logger::new(sdk.clone()).init();
///     log::info!(user = "ann", amount = 12; "purchase");
/// }
/// ```
#[derive(Clone)]
pub struct Logger<P> {
    sdk: Sdk<P>,
    level: log::LevelFilter,
}

impl<P: Platform> core::fmt::Debug for Logger<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Logger")
            .field("sdk", &self.sdk)
            .field("level", &self.level)
            .finish()
    }
}

impl<P: Platform + Send + Sync + 'static> Logger<P> {
    /// A logger reporting through `sdk`, every level.
    pub fn new(sdk: Sdk<P>) -> Self {
        Logger {
            sdk,
            level: log::LevelFilter::Trace,
        }
    }

    /// Reports records at `level` and above only (default: every level).
    pub fn max_level(mut self, level: log::LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// Installs this logger as `log`'s (once per process) and sets `log`'s
    /// maximum level to this logger's.
    pub fn init(self) -> Result<(), log::SetLoggerError> {
        let level = self.level;
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(level);
        Ok(())
    }
}

/// Records a record's key-values.
struct Visitor<'a>(&'a mut Fields);

impl<'kvs> VisitSource<'kvs> for Visitor<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, v: log::kv::Value<'kvs>) -> Result<(), Error> {
        let v = if let Some(b) = v.to_bool() {
            Value::Bool(b)
        } else if let Some(n) = v.to_u64() {
            Value::U64(n)
        } else if let Some(n) = v.to_i64() {
            Value::I64(n)
        } else if let Some(n) = v.to_f64() {
            Value::F64(n)
        } else {
            Value::Str(v.to_string())
        };
        self.0.set(key.as_str().to_string(), v);
        Ok(())
    }
}

impl<P: Platform + Send + Sync> log::Log for Logger<P> {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level && !is_own(m.target())
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mut fields = Fields::default();
        fields.set("message", Value::Str(r.args().to_string()));
        let _ = r.key_values().visit(&mut Visitor(&mut fields));
        let ev = LogEvent {
            fields: &fields,
            level: r.level().as_str(),
            target: r.target(),
            spans: &[],
        };
        // A refusal is counted and notified by the SDK, as for `report`.
        let _ = report_log(&self.sdk, &ev, r.target(), r.file(), r.line());
    }

    fn flush(&self) {
        let _ = self.sdk.flush(Duration::from_secs(1));
    }
}
