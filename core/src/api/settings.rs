//! Owned settings (feature `alloc`): what an SDK with a heap keeps, and
//! lends to the core as a borrowed [`Config`] when it needs one.

use crate::api::config::{Backoff, Config, Protocol, WhenFull};
use crate::send::server_choice::Strategy;
use crate::wire::envelope::{Encoder, Envelope};
use crate::wire::event_type::{EventType, TypeFn, TypeName};
use crate::wire::json::JsonView;
use alloc::string::String;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

/// Where each event's type comes from (owned form of [`EventType`]).
#[derive(Clone, Default)]
pub enum EventTypeBuf {
    /// The input label (default, as in the seed SDK).
    #[default]
    InputLabel,
    /// Always this name.
    Fixed(String),
    /// The string at this dotted path of the event.
    Field(String),
    /// A function of the encoded event.
    With(Arc<TypeFn>),
}

impl EventTypeBuf {
    /// Always `name`.
    pub fn fixed(name: impl Into<String>) -> Self {
        EventTypeBuf::Fixed(name.into())
    }

    /// The string at a dotted path (`"type"`, `"meta.kind"`); events without
    /// it get the input label.
    pub fn field(path: impl Into<String>) -> Self {
        EventTypeBuf::Field(path.into())
    }

    /// A function of the encoded event; `None` means the input label.
    ///
    /// ```
    /// use alooma_core::EventTypeBuf;
    /// let t = EventTypeBuf::with(|ev| ev.get_str("kind").map(Into::into));
    /// ```
    pub fn with<F>(f: F) -> Self
    where
        F: Fn(JsonView<'_>) -> Option<TypeName<'_>> + Send + Sync + 'static,
    {
        EventTypeBuf::With(Arc::new(f))
    }

    /// The borrowed form the encoder uses.
    pub fn as_ref(&self) -> EventType<'_> {
        match self {
            EventTypeBuf::InputLabel => EventType::InputLabel,
            EventTypeBuf::Fixed(s) => EventType::Fixed(s),
            EventTypeBuf::Field(s) => EventType::Field(s),
            EventTypeBuf::With(f) => EventType::With(&**f),
        }
    }
}

impl core::fmt::Debug for EventTypeBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// Every setting of [`Config`], owned, plus what an SDK with a heap applies
/// itself: its buffer's size (it allocates the ring) and whether records
/// carry `report_time` and `@uuid` (it stamps them). SDK builders fill one
/// in.
#[derive(Clone)]
pub struct Settings {
    /// Input token (secret: never shown by `Debug`).
    pub token: String,
    /// Collectors as `host:port`.
    pub servers: Vec<String>,
    /// Name of this input; also the fallback event type.
    pub input_label: String,
    /// How each event's type is chosen.
    pub event_type: EventTypeBuf,
    /// Record layout.
    pub envelope: Envelope,
    /// Buffer capacity in bytes (the SDK allocates its ring this size).
    pub buffer_bytes: usize,
    /// Full-buffer policy.
    pub when_full: WhenFull,
    /// Largest record accepted (`None`: the core's default).
    pub max_event_bytes: Option<usize>,
    /// Most bytes per write.
    pub batch_bytes: usize,
    /// Wait this long for a fuller batch.
    pub linger: Duration,
    /// Least time between small writes under load (see [`Config::coalesce`]).
    pub coalesce: Duration,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Longest one connection attempt may take.
    pub connect_timeout: Duration,
    /// Server choice.
    pub strategy: Strategy,
    /// Confirmation by bytes written after a record (see [`Config::replay_limit`]).
    pub replay_limit: usize,
    /// Confirmation by the collector's kernel acknowledgements (see
    /// [`Config::peer_buffer`]); `None` where the transport cannot see them.
    pub peer_buffer: Option<usize>,
    /// Loss markers (see [`Config::loss_markers`]).
    pub loss_markers: bool,
    /// The wire protocol (see [`Config::protocol`]).
    pub protocol: Protocol,
    /// RELP: unanswered frames at most (see [`Config::relp_window`]).
    pub relp_window: usize,
    /// RELP: longest wait for a reply (see [`Config::ack_timeout`]).
    pub ack_timeout: Duration,
    /// Records carry `report_time`.
    pub report_time: bool,
    /// Records carry `@uuid`.
    pub uuid: bool,
}

impl Default for Settings {
    /// [`Config::new`]'s defaults with no token and no servers, stamps on.
    fn default() -> Self {
        let d = Config::new("", &[]);
        Settings {
            token: String::new(),
            servers: Vec::new(),
            input_label: d.input_label.to_string(),
            event_type: EventTypeBuf::InputLabel,
            envelope: d.envelope,
            buffer_bytes: 1 << 20,
            when_full: d.when_full,
            max_event_bytes: d.max_event_bytes,
            batch_bytes: d.batch_bytes,
            linger: d.linger,
            coalesce: d.coalesce,
            backoff: d.backoff,
            connect_timeout: d.connect_timeout,
            strategy: d.strategy,
            replay_limit: d.replay_limit,
            peer_buffer: d.peer_buffer,
            loss_markers: d.loss_markers,
            protocol: d.protocol,
            relp_window: d.relp_window,
            ack_timeout: d.ack_timeout,
            report_time: true,
            uuid: true,
        }
    }
}

impl core::fmt::Debug for Settings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.with_config(|c| c.fmt(f))
    }
}

impl Settings {
    /// Runs `f` with the core's borrowed view of these settings.
    pub fn with_config<R>(&self, f: impl FnOnce(&Config<'_>) -> R) -> R {
        let servers: Vec<&str> = self.servers.iter().map(String::as_str).collect();
        f(&self.config(&servers))
    }

    /// The core's view over `servers` (these settings' servers): one copy
    /// of the field list for every caller of `with_config` (a guest's size
    /// counts).
    #[cfg_attr(target_family = "wasm", inline(never))]
    fn config<'a>(&'a self, servers: &'a [&'a str]) -> Config<'a> {
        let mut c = Config::new(&self.token, servers);
        c.input_label = &self.input_label;
        c.event_type = self.event_type.as_ref();
        c.envelope = self.envelope;
        c.when_full = self.when_full;
        c.max_event_bytes = self.max_event_bytes;
        c.batch_bytes = self.batch_bytes;
        c.linger = self.linger;
        c.coalesce = self.coalesce;
        c.backoff = self.backoff;
        c.connect_timeout = self.connect_timeout;
        c.strategy = self.strategy;
        c.replay_limit = self.replay_limit;
        c.peer_buffer = self.peer_buffer;
        c.loss_markers = self.loss_markers;
        c.protocol = self.protocol;
        c.relp_window = self.relp_window;
        c.ack_timeout = self.ack_timeout;
        c
    }

    /// Checks every setting for this buffer size (see [`Config::validate`]).
    #[allow(clippy::result_large_err)]
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        self.with_config(|c| c.validate(self.buffer_bytes))
    }

    /// The largest record accepted (see [`Config::max_event`]).
    pub fn max_event(&self) -> usize {
        self.with_config(|c| c.max_event(self.buffer_bytes))
    }

    /// The encoder for these settings.
    pub fn encoder(&self) -> Encoder<'_> {
        Encoder {
            envelope: self.envelope,
            token: &self.token,
            input_label: &self.input_label,
            event_type: self.event_type.as_ref(),
            fixed: None,
        }
    }
}
