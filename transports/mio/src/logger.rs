//! `log` as a front door (feature `log`): a [`log::Log`] that reports every
//! log record through an [`Sdk`], one JSON event each (see [`Logger`]).

use crate::log_event::{is_own, Fields, LogEvent, Value};
use crate::sdk::Sdk;
use log::kv::{Error, Key, VisitSource};
use std::time::Duration;

/// Reports each `log` record as one event: `message`, the record's
/// key-values, `level` and `target`; event type: the target.
/// `calling_file` and `calling_line` in the metadata are where the record
/// was made. Delivery, buffering and counts are those of
/// [`Sdk::report`]; `log::logger().flush()` waits up to 1 s for delivery.
/// The SDK's own diagnostics (target `alooma`) are not reported.
///
/// One line at start-up:
///
/// ```no_run
/// let sdk = alooma::Sdk::builder().token("t").server("127.0.0.1:5001").build()?;
/// alooma::Logger::new(sdk.clone()).init()?;
/// log::info!(user = "ann", amount = 12; "purchase");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Logger {
    sdk: Sdk,
    level: log::LevelFilter,
}

impl Logger {
    /// A logger reporting through `sdk`, every level.
    pub fn new(sdk: Sdk) -> Self {
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

impl log::Log for Logger {
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
        let _ = self.sdk.report_log(&ev, r.target(), r.file(), r.line());
    }

    fn flush(&self) {
        let _ = self.sdk.flush(Duration::from_secs(1));
    }
}
