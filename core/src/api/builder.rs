//! Configuring an [`Sdk`] (feature `std`): every setting of every SDK,
//! written once; the platform-only ones are offered where the platform has
//! them. [`Builder::build`] validates everything at once.

use crate::api::config::{Backoff, Protocol, WhenFull};
use crate::api::notify::{Notice, Notification};
use crate::api::platform::{Parts, Platform, SeesAcks, WithFile, WithTls};
use crate::api::sdk::Sdk;
use crate::api::settings::EventTypeBuf;
use crate::send::server_choice::Strategy;
use crate::wire::envelope::Envelope;
use core::time::Duration;
use std::boxed::Box;
use std::string::{String, ToString};
use std::sync::Arc;

/// Configures and starts an [`Sdk`]. Obtain with [`Sdk::builder`].
#[must_use]
pub struct Builder<P: Platform> {
    /// What `build` hands the platform once the settings are valid.
    parts: Parts<P>,
}

impl<P: Platform> core::fmt::Debug for Builder<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.parts.settings)
            .field("drop_timeout", &self.parts.drop_timeout)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Default for Builder<P> {
    fn default() -> Self {
        Builder {
            parts: Parts {
                settings: P::defaults(),
                drop_timeout: Duration::from_secs(2),
                notify: None,
                extra: P::Extra::default(),
            },
        }
    }
}

impl<P: Platform> Sdk<P> {
    /// Starts configuring an SDK.
    pub fn builder() -> Builder<P> {
        Builder::default()
    }
}

impl<P: Platform> Builder<P> {
    /// The input token (required; sent with every event; never logged).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.parts.settings.token = token.into();
        self
    }

    /// Collectors as `host:port` (port defaults to 5001). With several, one
    /// is chosen at random (see [`strategy`](Self::strategy)).
    pub fn servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.parts.settings.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// One collector.
    pub fn server(self, server: impl Into<String>) -> Self {
        self.servers([server.into()])
    }

    /// Name of this input (default `"Rust SDK"`); also the fallback event type.
    pub fn input_label(mut self, label: impl Into<String>) -> Self {
        self.parts.settings.input_label = label.into();
        self
    }

    /// How each event's type is chosen (default: the input label).
    pub fn event_type(mut self, t: EventTypeBuf) -> Self {
        self.parts.settings.event_type = t;
        self
    }

    /// Record layout (default [`Envelope::Metadata`](crate::Envelope::Metadata)).
    pub fn envelope(mut self, e: Envelope) -> Self {
        self.parts.settings.envelope = e;
        self
    }

    /// Buffer capacity in bytes of encoded records (default: the SDK's
    /// `DEFAULT_BUFFER_BYTES`, 24 MiB native, 32 MiB in a Wasm guest).
    pub fn buffer_bytes(mut self, n: usize) -> Self {
        self.parts.settings.buffer_bytes = n;
        self
    }

    /// What to do when the buffer is full (default: drop the new event).
    pub fn when_full(mut self, w: WhenFull) -> Self {
        self.parts.settings.when_full = w;
        self
    }

    /// Largest encoded event accepted (default 64 KiB).
    pub fn max_event_bytes(mut self, n: usize) -> Self {
        self.parts.settings.max_event_bytes = Some(n);
        self
    }

    /// Most bytes per write (default 64 KiB).
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.parts.settings.batch_bytes = n;
        self
    }

    /// Wait up to this long for a fuller batch (default: no wait).
    pub fn linger(mut self, d: Duration) -> Self {
        self.parts.settings.linger = d;
        self
    }

    /// Under sustained traffic, the least time between two writes of
    /// less than a batch (default 1 ms; the first write after a quiet
    /// spell is never delayed). Zero: write as soon as possible.
    pub fn coalesce(mut self, d: Duration) -> Self {
        self.parts.settings.coalesce = d;
        self
    }

    /// Reconnection delays (default 100 ms doubling to 30 s, 20% jitter).
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.parts.settings.backoff = b;
        self
    }

    /// Longest one connection attempt may take (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.parts.settings.connect_timeout = d;
        self
    }

    /// Server choice (default random, as the seed SDK).
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.parts.settings.strategy = s;
        self
    }

    /// Where the transport cannot see acknowledgements, a record is
    /// confirmed once this many more bytes were written after it on the
    /// same connection; until then it is kept, and sent again if the
    /// connection is lost. Set it to at least what can sit unread between
    /// this program and the collector's process. The buffer must be at
    /// least twice the window this rule needs.
    pub fn replay_limit(mut self, n: usize) -> Self {
        self.parts.settings.replay_limit = n;
        self
    }

    /// After events were dropped (either full-buffer policy), write one
    /// marker record (event type `alooma_loss`, with counts by cause and
    /// the time span) before the next events, so whoever reads the
    /// collector's output sees the gap (default on).
    pub fn loss_markers(mut self, on: bool) -> Self {
        self.parts.settings.loss_markers = on;
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
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.parts.settings.protocol = p;
        self
    }

    /// RELP: frames sent and not yet answered, at most (default
    /// [`DEFAULT_RELP_WINDOW`](crate::DEFAULT_RELP_WINDOW)).
    pub fn relp_window(mut self, frames: usize) -> Self {
        self.parts.settings.relp_window = frames;
        self
    }

    /// RELP: how long the collector may leave frames unanswered before
    /// the connection is dropped and they are sent again (default 10 s;
    /// a frame the collector silently discards gets no reply at all).
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.parts.settings.ack_timeout = d;
        self
    }

    /// Whether records carry `report_time` and `@uuid` (default both).
    pub fn stamps(mut self, report_time: bool, uuid: bool) -> Self {
        self.parts.settings.report_time = report_time;
        self.parts.settings.uuid = uuid;
        self
    }

    /// How long dropping the last handle of the [`Sdk`] waits to deliver
    /// (default 2 s).
    pub fn drop_timeout(mut self, d: Duration) -> Self {
        self.parts.drop_timeout = d;
        self
    }

    /// Called for every notification (connection changes, drops,
    /// refusals), never under a lock of the SDK; a panic in it is
    /// contained. The native SDK calls it on the thread where it happened
    /// (the sender thread, or the one reporting); the Wasm SDK from inside
    /// `report`, `poll`, `flush` or `close`.
    pub fn on_notify<F>(mut self, f: F) -> Self
    where
        F: Fn(&Notice) + Send + Sync + 'static,
    {
        self.parts.notify = Some(Arc::new(f));
        self
    }

    /// Validates everything and starts the SDK. A bad configuration
    /// returns every problem at once (and is notified as `CONFIG_FAILED`).
    /// The native SDK starts its sender thread; the Wasm SDK opens no
    /// connection until its first `poll`, `flush` or blocking `report`.
    pub fn build(self) -> Result<Sdk<P>, P::BuildError> {
        if let Err(e) = self.parts.settings.validate() {
            let detail = Some(e.to_string());
            let n = Notice::at(Notification::ConfigFailed, None, detail, P::wall_clock());
            P::emit(self.parts.notify.as_ref(), &n);
            return Err(Box::new(e).into());
        }
        P::start(self.parts).map(Sdk::new)
    }
}

impl<P: SeesAcks> Builder<P> {
    /// Native SDK: what the collector can hold unread: its kernel's
    /// receive buffer plus its own read buffer (default 6 MiB, Linux's
    /// default `tcp_rmem` maximum). On Linux a record counts as delivered,
    /// and leaves the replay window, once the collector's kernel has
    /// acknowledged it plus this many more bytes: a collector killed with
    /// unread data can lose no more. This is the one assumption of plain TCP
    /// delivery; raise it with the collector's buffers. The buffer must be
    /// at least twice this. Where the OS does not tell acknowledged bytes
    /// (not Linux), [`replay_limit`](Self::replay_limit) rules instead and
    /// this is ignored.
    pub fn peer_buffer(mut self, n: usize) -> Self {
        if self.parts.settings.peer_buffer.is_some() {
            self.parts.settings.peer_buffer = Some(n);
        }
        self
    }
}

impl<P: WithFile> Builder<P> {
    /// Native SDK: keeps the buffer in the file at `path` (created at
    /// `buffer_bytes` up front, or adopted with its own size when it holds
    /// a buffer), mapped into memory, so that events outlive the process: a
    /// process killed at any instruction loses none that `report` accepted,
    /// and the next one on the same file sends them before any new event
    /// (see [`Stats::recovered`](crate::Stats::recovered)). The file is
    /// locked: a second SDK on it fails at `build`.
    pub fn buffer_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        P::set_buffer_file(&mut self.parts.extra, path.into());
        self
    }

    /// Native SDK with [`buffer_file`](Self::buffer_file): how often the
    /// sender thread syncs the file to its disk (never the reporting
    /// thread); what a power cut can lose is what was reported in the last
    /// `every`. `None`: never sync (a process kill still loses nothing; a
    /// power cut, what the OS had not written back, up to about 30 s on
    /// Linux). Default 100 ms.
    pub fn sync_every(mut self, every: Option<Duration>) -> Self {
        P::set_sync_every(&mut self.parts.extra, every);
        self
    }
}

impl<P: WithTls> Builder<P> {
    /// Native SDK (feature `tls`): connect with TLS.
    pub fn tls(mut self, tls: P::Tls) -> Self {
        P::set_tls(&mut self.parts.extra, tls);
        self
    }
}
