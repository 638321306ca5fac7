//! Building an [`Sdk`]: every setting, validated at once.

use crate::sdk::Sdk;
use alooma_core::{ConfigError, Notice, Settings};
use std::time::Duration;

/// A notification callback. A guest has one thread: no `Send` needed.
pub(crate) type Callback = Box<dyn Fn(&Notice)>;

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
            // 1 MiB: edge runtimes give an instance little memory.
            s: Settings::default(),
            drop_timeout: Duration::from_secs(2),
            notify: None,
        }
    }
}

impl Builder {
    alooma_core::settings_methods!("1 MiB");

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
        if let Err(e) = self.s.with_config(|c| c.validate().map_err(Box::new)) {
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
        Ok(Sdk::start(self))
    }
}
