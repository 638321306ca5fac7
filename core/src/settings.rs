//! Owned settings (feature `alloc`): what an SDK with a heap keeps, and
//! lends to the core as a borrowed [`Config`] when it needs one.

use crate::config::{Backoff, Config, Protocol, WhenFull};
use crate::envelope::{Encoder, Envelope};
use crate::event_type::{EventType, TypeFn, TypeName};
use crate::json::JsonView;
use crate::server_choice::Strategy;
pub use alloc::string::String;
use alloc::string::ToString;
use alloc::sync::Arc;
pub use alloc::vec::Vec;
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
        let mut c = Config::new(&self.token, &servers);
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
        f(&c)
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
        }
    }
}

/// The setting methods every SDK builder shares, written once: expands
/// inside `impl Builder` of a type with a field `s: Settings`. The argument
/// is the SDK's default buffer size, for the docs.
#[doc(hidden)]
#[macro_export]
macro_rules! settings_methods {
    ($buffer_default:literal) => {
        /// The input token (required; sent with every event; never logged).
        pub fn token(mut self, token: impl ::core::convert::Into<$crate::__String>) -> Self {
            self.s.token = token.into();
            self
        }

        /// Collectors as `host:port` (port defaults to 5001). With several, one
        /// is chosen at random (see [`strategy`](Self::strategy)).
        pub fn servers<I, S>(mut self, servers: I) -> Self
        where
            I: ::core::iter::IntoIterator<Item = S>,
            S: ::core::convert::Into<$crate::__String>,
        {
            self.s.servers = servers.into_iter().map(::core::convert::Into::into).collect();
            self
        }

        /// One collector.
        pub fn server(self, server: impl ::core::convert::Into<$crate::__String>) -> Self {
            self.servers([server.into()])
        }

        /// Name of this input (default `"Rust SDK"`); also the fallback event type.
        pub fn input_label(mut self, label: impl ::core::convert::Into<$crate::__String>) -> Self {
            self.s.input_label = label.into();
            self
        }

        /// How each event's type is chosen (default: the input label).
        pub fn event_type(mut self, t: $crate::EventTypeBuf) -> Self {
            self.s.event_type = t;
            self
        }

        /// Record layout (default [`Envelope::Metadata`]($crate::Envelope::Metadata)).
        pub fn envelope(mut self, e: $crate::Envelope) -> Self {
            self.s.envelope = e;
            self
        }

            #[doc = concat!("Buffer capacity in bytes of encoded records (default ", $buffer_default, ").")]
        pub fn buffer_bytes(mut self, n: usize) -> Self {
            self.s.buffer_bytes = n;
            self
        }

        /// What to do when the buffer is full (default: drop the new event).
        pub fn when_full(mut self, w: $crate::WhenFull) -> Self {
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
        pub fn linger(mut self, d: ::core::time::Duration) -> Self {
            self.s.linger = d;
            self
        }

        /// Under sustained traffic, the least time between two writes of
        /// less than a batch (default 1 ms; the first write after a quiet
        /// spell is never delayed). Zero: write as soon as possible.
        pub fn coalesce(mut self, d: ::core::time::Duration) -> Self {
            self.s.coalesce = d;
            self
        }

        /// Reconnection delays (default 100 ms doubling to 30 s, 20% jitter).
        pub fn backoff(mut self, b: $crate::Backoff) -> Self {
            self.s.backoff = b;
            self
        }

        /// Longest one connection attempt may take (default 10 s).
        pub fn connect_timeout(mut self, d: ::core::time::Duration) -> Self {
            self.s.connect_timeout = d;
            self
        }

        /// Server choice (default random, as the seed SDK).
        pub fn strategy(mut self, s: $crate::Strategy) -> Self {
            self.s.strategy = s;
            self
        }

        /// Where the transport cannot see acknowledgements, a record is
        /// confirmed once this many more bytes were written after it on the
        /// same connection; until then it is kept, and sent again if the
        /// connection is lost. Set it to at least what can sit unread between
        /// this program and the collector's process. The buffer must be at
        /// least twice the window this rule needs.
        pub fn replay_limit(mut self, n: usize) -> Self {
            self.s.replay_limit = n;
            self
        }

        /// After events were dropped (either full-buffer policy), write one
        /// marker record (event type `alooma_loss`, with counts by cause and
        /// the time span) before the next events, so whoever reads the
        /// collector's output sees the gap (default on).
        pub fn loss_markers(mut self, on: bool) -> Self {
            self.s.loss_markers = on;
            self
        }

        /// The wire protocol (default `Protocol::Tcp`). With
        /// `Protocol::Relp` (rsyslog's `imrelp`), a record counts as
        /// delivered once the collector answered `200 OK` for it (queued by
        /// the collector); everything unanswered is sent again after a lost
        /// connection. The largest event then defaults to 8,096 bytes, rsyslog's
        /// default `maxMessageSize`: raise `max_event_bytes` only together with
        /// the collector's `maxMessageSize`/`maxDataSize` (rsyslog truncates a
        /// larger frame and still acknowledges it).
        pub fn protocol(mut self, p: $crate::Protocol) -> Self {
            self.s.protocol = p;
            self
        }

        /// RELP: frames sent and not yet answered, at most (default
        /// `DEFAULT_RELP_WINDOW`).
        pub fn relp_window(mut self, frames: usize) -> Self {
            self.s.relp_window = frames;
            self
        }

        /// RELP: how long the collector may leave frames unanswered before
        /// the connection is dropped and they are sent again (default 10 s;
        /// a frame the collector silently discards gets no reply at all).
        pub fn ack_timeout(mut self, d: ::core::time::Duration) -> Self {
            self.s.ack_timeout = d;
            self
        }

        /// Whether records carry `report_time` and `@uuid` (default both).
        pub fn stamps(mut self, report_time: bool, uuid: bool) -> Self {
            self.s.report_time = report_time;
            self.s.uuid = uuid;
            self
        }
    };
}

/// The reporting methods every SDK shares, written once: expands inside
/// `impl Sdk` of a type with
/// `fn push(&self or &mut self, &'static Location<'static>, encode) -> Result<(), ReportError>`
/// where `encode: Fn(&Encoder, &Stamp, &mut Out) -> Result<usize, EncodeError>`.
/// The argument is `mut` for SDKs whose methods take `&mut self`, empty
/// otherwise.
#[doc(hidden)]
#[macro_export]
macro_rules! report_methods {
    ($($m:ident)?) => {
        /// Reports an event: anything `Serialize` that is a JSON object or a
        /// string. Encodes it into the buffer and returns; the transport
        /// delivers it. No I/O, no blocking, except under
        /// `WhenFull::Block`/`BlockFor`.
        #[track_caller]
        pub fn report<T: $crate::__serde::Serialize + ?Sized>(
            &$($m)? self,
            event: &T,
        ) -> ::core::result::Result<(), $crate::ReportError> {
            let loc = ::core::panic::Location::caller();
            self.push(loc, |enc, st, out| enc.encode_value(event, $crate::NO_META, st, out))
        }

        /// Like [`report`](Self::report), merging `metadata` (a JSON object)
        /// into the record's metadata.
        #[track_caller]
        pub fn report_with<T, M>(
            &$($m)? self,
            event: &T,
            metadata: &M,
        ) -> ::core::result::Result<(), $crate::ReportError>
        where
            T: $crate::__serde::Serialize + ?Sized,
            M: $crate::__serde::Serialize + ?Sized,
        {
            let loc = ::core::panic::Location::caller();
            self.push(loc, |enc, st, out| {
                enc.encode_value(event, ::core::option::Option::Some(metadata), st, out)
            })
        }

        /// Reports JSON text (an object or a string), validated strictly and
        /// sent compacted to one line.
        #[track_caller]
        pub fn report_json(
            &$($m)? self,
            json: &str,
        ) -> ::core::result::Result<(), $crate::ReportError> {
            let loc = ::core::panic::Location::caller();
            self.push(loc, |enc, st, out| {
                enc.encode_json(json.as_bytes(), $crate::NO_META, st, out)
            })
        }

        /// Reports several events; returns the ones refused, with their index.
        #[track_caller]
        pub fn report_many<I>(
            &$($m)? self,
            events: I,
        ) -> $crate::__Vec<(usize, $crate::ReportError)>
        where
            I: ::core::iter::IntoIterator,
            I::Item: $crate::__serde::Serialize,
        {
            let loc = ::core::panic::Location::caller();
            let mut failed = $crate::__Vec::new();
            for (i, ev) in ::core::iter::IntoIterator::into_iter(events).enumerate() {
                if let ::core::result::Result::Err(e) =
                    self.push(loc, |enc, st, out| enc.encode_value(&ev, $crate::NO_META, st, out))
                {
                    failed.push((i, e));
                }
            }
            failed
        }
    };
}
