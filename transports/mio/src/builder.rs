//! Building an [`Sdk`]: every setting, validated at once.

use crate::notify::{Callback, Notification};
use crate::sdk::Sdk;
use alooma_core::{ConfigError, Settings};
use std::sync::Arc;
use std::time::Duration;

/// Why [`Builder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration has problems (all of them are listed).
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// The OS refused what the sender thread needs (poll, waker, thread).
    #[error("cannot start the sender: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError::Config(Box::new(e))
    }
}

/// Configures and starts an [`Sdk`]. Obtain with [`Sdk::builder`].
#[must_use]
pub struct Builder {
    pub(crate) s: Settings,
    pub(crate) drop_timeout: Duration,
    pub(crate) notify: Option<Callback>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::Tls>,
}

/// Default buffer of the native SDK: 24 MiB, so that the replay window
/// (`peer_buffer` plus what the collector's kernel has not acknowledged yet,
/// at most Linux's 4 MiB send buffer; measured under sustained load on
/// loopback: 7 to 10 MiB, see README) leaves well over half for new events.
pub const DEFAULT_BUFFER_BYTES: usize = 24 << 20;

/// Default `replay_limit` of the native SDK, used where the OS does not tell
/// acknowledged bytes (not Linux): 12 MiB, more than Linux's largest send
/// buffer (4 MiB) plus a collector's receive buffer (6 MiB).
pub const DEFAULT_REPLAY_LIMIT: usize = 12 << 20;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            s: Settings {
                buffer_bytes: DEFAULT_BUFFER_BYTES,
                replay_limit: DEFAULT_REPLAY_LIMIT,
                peer_buffer: cfg!(target_os = "linux").then_some(alooma_core::DEFAULT_PEER_BUFFER),
                ..Settings::default()
            },
            drop_timeout: Duration::from_secs(2),
            notify: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Sdk {
    /// Starts configuring an SDK.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    alooma_core::settings_methods!("24 MiB");

    /// What the collector can hold unread: its kernel's receive buffer plus
    /// its own read buffer (default 6 MiB, Linux's default `tcp_rmem`
    /// maximum). On Linux a record counts as delivered, and leaves the replay
    /// window, once the collector's kernel has acknowledged it plus this many
    /// more bytes: a collector killed with unread data can lose no more. This
    /// is the one assumption of plain TCP delivery; raise it with the
    /// collector's buffers. The buffer must be at least twice this.
    pub fn peer_buffer(mut self, n: usize) -> Self {
        if self.s.peer_buffer.is_some() {
            self.s.peer_buffer = Some(n);
        }
        self
    }

    /// How long dropping the last handle waits to deliver (default 2 s).
    pub fn drop_timeout(mut self, d: Duration) -> Self {
        self.drop_timeout = d;
        self
    }

    /// Called for every notification (connection changes, drops, refusals),
    /// on the thread where it happened, never under a lock of the SDK.
    pub fn on_notify<F>(mut self, f: F) -> Self
    where
        F: Fn(&Notification) + Send + Sync + 'static,
    {
        self.notify = Some(Arc::new(f));
        self
    }

    /// Connect with TLS (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Validates everything and starts the sender thread. A bad
    /// configuration returns every problem at once (and is notified as
    /// `CONFIG_FAILED`).
    pub fn build(self) -> Result<Sdk, BuildError> {
        if let Err(e) = self.s.validate().map_err(Box::new) {
            if let Some(cb) = &self.notify {
                let n = Notification::new(
                    alooma_core::Notification::ConfigFailed,
                    None,
                    Some(e.to_string()),
                );
                crate::notify::emit(Some(cb), &n);
            }
            return Err(BuildError::Config(e));
        }
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(t) => Some(t.client_config()?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls = None;
        Ok(Sdk::start(self.s, self.drop_timeout, self.notify, tls)?)
    }
}
