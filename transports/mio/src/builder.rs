//! Building an [`Sdk`]: every setting, validated at once.

use crate::notify::{Callback, Notification};
use crate::sdk::Sdk;
use alooma_core::{Backoff, Config, ConfigError, Envelope, JsonView, Strategy, TypeName, WhenFull};
use std::sync::Arc;
use std::time::Duration;

/// Where each event's type comes from (owned form of
/// [`alooma_core::EventType`]).
#[derive(Clone, Default)]
pub enum EventType {
    /// The input label (default, as in the seed SDK).
    #[default]
    InputLabel,
    /// Always this name.
    Fixed(String),
    /// The string at this dotted path of the event.
    Field(String),
    /// A function of the encoded event.
    With(Arc<alooma_core::TypeFn>),
}

impl EventType {
    /// Always `name`.
    pub fn fixed(name: impl Into<String>) -> Self {
        EventType::Fixed(name.into())
    }
    /// The string at a dotted path (`"type"`, `"meta.kind"`); events without
    /// it get the input label.
    pub fn field(path: impl Into<String>) -> Self {
        EventType::Field(path.into())
    }
    /// A function of the encoded event; `None` means the input label.
    ///
    /// ```
    /// use alooma_mio::EventType;
    /// let t = EventType::with(|ev| ev.get_str("kind").map(Into::into));
    /// ```
    pub fn with<F>(f: F) -> Self
    where
        F: Fn(JsonView<'_>) -> Option<TypeName<'_>> + Send + Sync + 'static,
    {
        EventType::With(Arc::new(f))
    }

    pub(crate) fn as_core(&self) -> alooma_core::EventType<'_> {
        match self {
            EventType::InputLabel => alooma_core::EventType::InputLabel,
            EventType::Fixed(s) => alooma_core::EventType::Fixed(s),
            EventType::Field(s) => alooma_core::EventType::Field(s),
            EventType::With(f) => alooma_core::EventType::With(&**f),
        }
    }
}

impl std::fmt::Debug for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_core().fmt(f)
    }
}

/// Settings the SDK owns (the core borrows views of them).
#[derive(Clone)]
pub(crate) struct Settings {
    pub token: String,
    pub servers: Vec<String>,
    pub input_label: String,
    pub event_type: EventType,
    pub envelope: Envelope,
    pub buffer_bytes: usize,
    pub when_full: WhenFull,
    pub max_event_bytes: Option<usize>,
    pub batch_bytes: usize,
    pub linger: Duration,
    pub backoff: Backoff,
    pub connect_timeout: Duration,
    pub strategy: Strategy,
    pub replay_limit: Option<usize>,
    pub drop_timeout: Duration,
    pub report_time: bool,
    pub uuid: bool,
}

impl Settings {
    /// Runs `f` with the core's borrowed view of these settings.
    pub fn with_config<R>(&self, f: impl FnOnce(&Config<'_>) -> R) -> R {
        let servers: Vec<&str> = self.servers.iter().map(String::as_str).collect();
        let mut c = Config::new(&self.token, &servers);
        c.input_label = &self.input_label;
        c.event_type = self.event_type.as_core();
        c.envelope = self.envelope;
        c.buffer_bytes = self.buffer_bytes;
        c.when_full = self.when_full;
        c.max_event_bytes = self.max_event_bytes;
        c.batch_bytes = self.batch_bytes;
        c.linger = self.linger;
        c.backoff = self.backoff;
        c.connect_timeout = self.connect_timeout;
        c.strategy = self.strategy;
        c.replay_limit = self.replay_limit;
        f(&c)
    }
}

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
    pub(crate) notify: Option<Callback>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::Tls>,
}

impl Default for Builder {
    fn default() -> Self {
        let d = Config::new("", &[]);
        Builder {
            s: Settings {
                token: String::new(),
                servers: Vec::new(),
                input_label: d.input_label.to_string(),
                event_type: EventType::InputLabel,
                envelope: d.envelope,
                buffer_bytes: 8 << 20,
                when_full: d.when_full,
                max_event_bytes: None,
                batch_bytes: d.batch_bytes,
                linger: d.linger,
                backoff: d.backoff,
                connect_timeout: d.connect_timeout,
                strategy: d.strategy,
                replay_limit: d.replay_limit,
                drop_timeout: Duration::from_secs(2),
                report_time: true,
                uuid: true,
            },
            notify: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Builder {
    /// The input token (required; sent with every event; never logged).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.s.token = token.into();
        self
    }

    /// Collectors as `host:port` (port defaults to 5001). With several, one
    /// is chosen at random (see [`strategy`](Self::strategy)).
    pub fn servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.s.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// One collector.
    pub fn server(self, server: impl Into<String>) -> Self {
        self.servers([server.into()])
    }

    /// Name of this input (default `"Rust SDK"`); also the fallback event type.
    pub fn input_label(mut self, label: impl Into<String>) -> Self {
        self.s.input_label = label.into();
        self
    }

    /// How each event's type is chosen (default: the input label).
    pub fn event_type(mut self, t: EventType) -> Self {
        self.s.event_type = t;
        self
    }

    /// Record layout (default [`Envelope::Metadata`]).
    pub fn envelope(mut self, e: Envelope) -> Self {
        self.s.envelope = e;
        self
    }

    /// Buffer capacity in bytes of encoded records (default 8 MiB).
    pub fn buffer_bytes(mut self, n: usize) -> Self {
        self.s.buffer_bytes = n;
        self
    }

    /// What to do when the buffer is full (default: drop the new event).
    pub fn when_full(mut self, w: WhenFull) -> Self {
        self.s.when_full = w;
        self
    }

    /// Largest encoded event accepted (default 64 KiB).
    pub fn max_event_bytes(mut self, n: usize) -> Self {
        self.s.max_event_bytes = Some(n);
        self
    }

    /// Most bytes per write (default 64 KiB).
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.s.batch_bytes = n;
        self
    }

    /// Wait up to this long for a fuller batch (default: no wait).
    pub fn linger(mut self, d: Duration) -> Self {
        self.s.linger = d;
        self
    }

    /// Reconnection delays (default 100 ms doubling to 30 s, 20% jitter).
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.s.backoff = b;
        self
    }

    /// Longest one connection attempt may take (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.s.connect_timeout = d;
        self
    }

    /// Server choice (default random, as the seed SDK).
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.s.strategy = s;
        self
    }

    /// Most bytes replayed after a connection is lost (default 16 MiB).
    pub fn replay_limit(mut self, n: Option<usize>) -> Self {
        self.s.replay_limit = n;
        self
    }

    /// How long dropping the last handle waits to deliver (default 2 s).
    pub fn drop_timeout(mut self, d: Duration) -> Self {
        self.s.drop_timeout = d;
        self
    }

    /// Whether records carry `report_time` and `@uuid` (default both).
    pub fn stamps(mut self, report_time: bool, uuid: bool) -> Self {
        self.s.report_time = report_time;
        self.s.uuid = uuid;
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
        if let Err(e) = self.s.with_config(|c| c.validate().map_err(Box::new)) {
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
        Sdk::start(self)
    }
}
