//! Building an [`Sdk`]: every setting, validated at once.

use crate::sdk::{Callback, Sdk};
use alooma_core::{ConfigError, Notice, Settings};
use std::time::Duration;

/// Default `replay_limit` in a guest: 12 MiB. A guest cannot see what the
/// collector's kernel acknowledged, so a record counts as delivered only
/// once this many bytes were written after it on the same connection: more
/// than Linux's largest send buffer (4 MiB) plus a collector's receive
/// buffer (6 MiB) plus what the runtime itself buffers.
pub const DEFAULT_REPLAY_LIMIT: usize = 12 << 20;

/// Default buffer in a guest: 32 MiB, so that the replay window (at most
/// `replay_limit`) leaves well over half for new events. Linear memory is
/// touched only as records fill it.
pub const DEFAULT_BUFFER_BYTES: usize = 32 << 20;

/// Why [`Builder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration has problems (all of them are listed).
    #[error(transparent)]
    Config(Box<ConfigError>),
}

/// Configures an [`Sdk`]. Obtain with [`Sdk::builder`].
#[must_use]
pub struct Builder {
    pub(crate) s: Settings,
    pub(crate) drop_timeout: Duration,
    pub(crate) notify: Option<Callback>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            s: Settings {
                buffer_bytes: DEFAULT_BUFFER_BYTES,
                replay_limit: DEFAULT_REPLAY_LIMIT,
                ..Settings::default()
            },
            drop_timeout: Duration::from_secs(2),
            notify: None,
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
    alooma_core::settings_methods!("32 MiB");

    /// How long dropping the [`Sdk`] waits to deliver (default 2 s).
    pub fn drop_timeout(mut self, d: Duration) -> Self {
        self.drop_timeout = d;
        self
    }

    /// Called for every notification (connection changes, drops, refusals),
    /// from inside `report`, `poll`, `flush` or `close`.
    pub fn on_notify<F>(mut self, f: F) -> Self
    where
        F: Fn(&Notice) + 'static,
    {
        self.notify = Some(Box::new(f));
        self
    }

    /// Validates everything. A bad configuration returns every problem at
    /// once (and is notified as `CONFIG_FAILED`). Opens no connection: the
    /// first [`Sdk::poll`] or [`Sdk::flush`] does.
    pub fn build(self) -> Result<Sdk, BuildError> {
        if let Err(e) = self.s.validate().map_err(Box::new) {
            if let Some(cb) = &self.notify {
                let n = Notice::new(
                    alooma_core::Notification::ConfigFailed,
                    None,
                    Some(e.to_string()),
                );
                crate::sdk::emit(Some(cb), &n);
            }
            return Err(BuildError::Config(e));
        }
        Ok(Sdk::start(self.s, self.drop_timeout, self.notify))
    }
}
