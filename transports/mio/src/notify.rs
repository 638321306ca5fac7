//! Notifications as the native SDK's user sees them: the core's typed
//! event plus the server's name and the time, to a callback and (feature
//! `tracing`) to `tracing`.

use alooma_core::Level;
use std::sync::Arc;
use std::time::SystemTime;

pub(crate) type Callback = Arc<dyn Fn(&Notification) + Send + Sync>;

/// Something the SDK wants its user to know. `code()` is the seed SDK's
/// numeric code.
#[derive(Debug, Clone)]
pub struct Notification {
    /// What happened.
    pub event: alooma_core::Notification,
    /// The server concerned, as configured (`host:port`), if any.
    pub server: Option<String>,
    /// Extra detail (for example the OS error text).
    pub detail: Option<String>,
    /// When it happened.
    pub time: SystemTime,
}

impl Notification {
    pub(crate) fn new(
        event: alooma_core::Notification,
        server: Option<String>,
        detail: Option<String>,
    ) -> Self {
        Notification {
            event,
            server,
            detail,
            time: SystemTime::now(),
        }
    }

    /// The seed SDK's code (19 connecting, 20 connected, 30 disconnected,
    /// 40 send failed, 48 buffer full, …).
    pub fn code(&self) -> u16 {
        self.event.code()
    }

    /// How serious it is.
    pub fn level(&self) -> Level {
        self.event.level()
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code(), self.event)?;
        if let Some(s) = &self.server {
            write!(f, " ({s})")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// Hands `n` to the callback (a panicking callback is contained) and to
/// `tracing`.
pub(crate) fn emit(cb: Option<&Callback>, n: &Notification) {
    #[cfg(feature = "tracing")]
    match n.level() {
        Level::Info => tracing::info!(code = n.code(), "{n}"),
        Level::Warn => tracing::warn!(code = n.code(), "{n}"),
        Level::Error => tracing::error!(code = n.code(), "{n}"),
    }
    if let Some(cb) = cb {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(n)));
    }
}
