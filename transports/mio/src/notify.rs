//! Notifications as the native SDK's user sees them ([`Notification`]: the
//! core's typed event plus the server's name and the time), to a callback
//! and (feature `tracing`) to `tracing`.

pub(crate) use alooma_core::Callback;
#[cfg(feature = "tracing")]
use alooma_core::Level;
pub use alooma_core::Notice as Notification;

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
