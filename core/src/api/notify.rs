//! Notifications: what the SDK tells its user, with the seed SDK's codes.

use crate::api::error::ReportError;

/// How serious a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Routine progress.
    Info,
    /// Something was lost or may be duplicated, or a connection was lost.
    Warn,
    /// Something needs the user's attention.
    Error,
}

/// Why a connection attempt or connection failed, as drivers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// Name lookup failed or gave no address.
    NameLookup,
    /// The peer refused the connection.
    Refused,
    /// The connection was reset or aborted by the peer.
    Reset,
    /// The peer closed the connection (end of stream).
    PeerClosed,
    /// Connecting (or writing) took too long.
    TimedOut,
    /// No route to the host or network.
    Unreachable,
    /// The runtime or OS denied network access.
    Denied,
    /// TLS failed (handshake, certificate, or a TLS alert).
    Tls,
    /// The collector broke the protocol or refused a record (RELP).
    Protocol,
    /// Any other I/O error.
    Other,
}

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NetError::NameLookup => "name lookup failed",
            NetError::Refused => "connection refused",
            NetError::Reset => "connection reset",
            NetError::PeerClosed => "closed by the peer",
            NetError::TimedOut => "timed out",
            NetError::Unreachable => "unreachable",
            NetError::Denied => "network access denied",
            NetError::Tls => "TLS failure",
            NetError::Other => "I/O error",
            NetError::Protocol => "protocol error",
        })
    }
}

/// Something worth telling the user. `server` is an index into the
/// configured server list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// A connection attempt to a server started.
    Connecting {
        /// Server index.
        server: usize,
    },
    /// Connected to a server.
    Connected {
        /// Server index.
        server: usize,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// Server index.
        server: usize,
        /// Why.
        error: NetError,
    },
    /// An established connection was lost; `replayed` records will be
    /// sent again (possible duplicates).
    Disconnected {
        /// Server index.
        server: usize,
        /// Why.
        error: NetError,
        /// Records to be resent.
        replayed: usize,
    },
    /// Writing to the connection failed; it is closed and `replayed`
    /// records will be sent again.
    SendFailed {
        /// Server index.
        server: usize,
        /// Why.
        error: NetError,
        /// Records to be resent.
        replayed: usize,
    },
    /// A close ended without the collector closing its side in time: the
    /// records of the replay window were sent but nothing proves the
    /// collector read them (counted unconfirmed).
    CloseUnconfirmed {
        /// Server index.
        server: usize,
        /// Records sent and not confirmed.
        unconfirmed: usize,
    },
    /// TLS setup or the TLS session failed.
    TlsFailed {
        /// Server index.
        server: usize,
    },
    /// An event was refused as invalid or too large: once when an episode
    /// of refusals begins (this one's reason), then
    /// [`RejectionsEnded`](Self::RejectionsEnded) with the episode's count.
    EventRejected(ReportError),
    /// An episode of refused events ended (no refusal for a while).
    RejectionsEnded {
        /// Events refused during the episode.
        rejected: u64,
    },
    /// The buffer filled up; events are being refused or dropped. Once
    /// when a loss episode begins.
    BufferFull,
    /// The loss episode begun by [`BufferFull`](Self::BufferFull) ended
    /// (the buffer turned over without loss, or is half empty again), with
    /// its totals by cause. Once per episode, never per event.
    BufferFreed {
        /// Events lost during the episode (the sum of the three below).
        dropped: u64,
        /// New events refused for lack of room.
        refused: u64,
        /// Events dropped before they were ever written (`DropOldest`).
        dropped_oldest: u64,
        /// Written events dropped before the collector confirmed them
        /// (`DropOldest`): counted unconfirmed.
        unconfirmed: u64,
    },
    /// The RELP collector refused a record, broke the protocol, closed
    /// the session or did not answer in time (with the collector's text for
    /// a refusal). The connection is dropped; what it did not acknowledge is
    /// sent again (a `Disconnected`/`SendFailed`/`ConnectFailed` follows).
    RelpFailed {
        /// The server.
        server: usize,
        /// What happened.
        error: crate::protocol::relp::RelpError,
    },
    /// The configuration was refused.
    ConfigFailed,
    /// A durable ring was found again at start (see
    /// [`Ring::recover`](crate::Ring::recover)): `records` are sent before
    /// any new event; `damaged` records (`damaged_bytes` bytes) were torn or
    /// damaged and are lost. Once, at start, when there was anything to
    /// recover or anything lost.
    Recovered {
        /// Records recovered.
        records: u64,
        /// Records lost to damage or tearing.
        damaged: u64,
        /// Their bytes (with no usable header: the whole record area).
        damaged_bytes: u64,
    },
}

impl Notification {
    /// The configured server (its index) this notification is about, if any.
    pub fn server(&self) -> Option<usize> {
        match *self {
            Notification::Connecting { server }
            | Notification::Connected { server }
            | Notification::ConnectFailed { server, .. }
            | Notification::Disconnected { server, .. }
            | Notification::SendFailed { server, .. }
            | Notification::CloseUnconfirmed { server, .. }
            | Notification::RelpFailed { server, .. }
            | Notification::TlsFailed { server } => Some(server),
            _ => None,
        }
    }

    /// The seed SDK's numeric code (10 TLS, 19 connecting, 20 connected,
    /// 30 disconnected, 40 send failed, 41 RELP failure, 45 event rejected,
    /// 46 rejections ended, 48 buffer full, 49 buffer freed, 50 config
    /// failed, 51 durable ring recovered).
    pub fn code(&self) -> u16 {
        match self {
            Notification::TlsFailed { .. } => 10,
            Notification::Connecting { .. } => 19,
            Notification::Connected { .. } => 20,
            Notification::ConnectFailed { .. }
            | Notification::Disconnected { .. }
            | Notification::CloseUnconfirmed { .. } => 30,
            Notification::SendFailed { .. } => 40,
            Notification::RelpFailed { .. } => 41,
            Notification::EventRejected(_) => 45,
            Notification::RejectionsEnded { .. } => 46,
            Notification::BufferFull => 48,
            Notification::BufferFreed { .. } => 49,
            Notification::ConfigFailed => 50,
            Notification::Recovered { .. } => 51,
        }
    }

    /// How serious it is.
    pub fn level(&self) -> Level {
        match self {
            Notification::Connecting { .. }
            | Notification::Connected { .. }
            | Notification::BufferFreed { .. } => Level::Info,
            Notification::Recovered {
                damaged,
                damaged_bytes,
                ..
            } => {
                if damaged + damaged_bytes > 0 {
                    Level::Error
                } else {
                    Level::Info
                }
            }
            Notification::ConnectFailed { .. }
            | Notification::Disconnected { .. }
            | Notification::CloseUnconfirmed { .. }
            | Notification::EventRejected(_)
            | Notification::RejectionsEnded { .. }
            | Notification::BufferFull => Level::Warn,
            Notification::SendFailed { .. }
            | Notification::RelpFailed { .. }
            | Notification::TlsFailed { .. }
            | Notification::ConfigFailed => Level::Error,
        }
    }
}

impl core::fmt::Display for Notification {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Notification::Connecting { server } => write!(f, "connecting to server #{server}"),
            Notification::Connected { server } => write!(f, "connected to server #{server}"),
            Notification::ConnectFailed { server, error } => {
                write!(f, "connecting to server #{server} failed: {error}")
            }
            Notification::Disconnected {
                server,
                error,
                replayed,
            } => {
                write!(
                    f,
                    "disconnected from server #{server}: {error}; {replayed} events will be resent"
                )
            }
            Notification::SendFailed {
                server,
                error,
                replayed,
            } => {
                write!(
                    f,
                    "sending to server #{server} failed: {error}; {replayed} events will be resent"
                )
            }
            Notification::CloseUnconfirmed {
                server,
                unconfirmed,
            } => write!(
                f,
                "server #{server} did not close its side in time: {unconfirmed} sent events are unconfirmed"
            ),
            Notification::TlsFailed { server } => write!(f, "TLS with server #{server} failed"),
            Notification::RelpFailed { server, error } => {
                write!(f, "RELP with server #{server}: {error}")
            }
            Notification::EventRejected(e) => write!(f, "event rejected: {e}"),
            Notification::RejectionsEnded { rejected } => {
                write!(f, "{rejected} events rejected")
            }
            Notification::BufferFull => f.write_str("buffer full: events are being dropped"),
            Notification::BufferFreed {
                dropped,
                refused,
                dropped_oldest,
                unconfirmed,
            } => {
                write!(
                    f,
                    "buffer has room again; {dropped} events lost ({refused} refused, \
                     {dropped_oldest} unsent, {unconfirmed} unconfirmed)"
                )
            }
            Notification::ConfigFailed => f.write_str("configuration refused"),
            Notification::Recovered {
                records,
                damaged,
                damaged_bytes,
            } => write!(
                f,
                "buffer recovered: {records} events from before the restart will be sent \
                 first; {damaged} events ({damaged_bytes} bytes) were damaged and are lost"
            ),
        }
    }
}

/// A [`Notification`] as an SDK with `std` hands it to its user: the event,
/// the server's configured name, extra detail and the time (feature `std`).
#[cfg(feature = "std")]
#[derive(Debug, Clone)]
pub struct Notice {
    /// What happened.
    pub event: Notification,
    /// The server concerned, as configured (`host:port`), if any.
    pub server: Option<std::string::String>,
    /// Extra detail (for example the OS error text).
    pub detail: Option<std::string::String>,
    /// When it happened.
    pub time: std::time::SystemTime,
}

#[cfg(feature = "std")]
impl Notice {
    /// `event` about `server`, now.
    pub fn new(
        event: Notification,
        server: Option<std::string::String>,
        detail: Option<std::string::String>,
    ) -> Self {
        Self::at(event, server, detail, std::time::SystemTime::now())
    }

    /// `event` about `server`, at `time`.
    pub fn at(
        event: Notification,
        server: Option<std::string::String>,
        detail: Option<std::string::String>,
        time: std::time::SystemTime,
    ) -> Self {
        Notice {
            event,
            server,
            detail,
            time,
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

#[cfg(feature = "std")]
impl core::fmt::Display for Notice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
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

/// Quiet time after the last refused event that ends an episode of
/// refusals (see [`Rejections`]).
#[cfg(feature = "std")]
pub const REJECT_QUIET: core::time::Duration = core::time::Duration::from_secs(1);

/// Episodes of events refused as invalid or too large, so that the user is
/// told once when one begins ([`Notification::EventRejected`]) and once
/// with its count when it ends ([`Notification::RejectionsEnded`]: at the
/// first accepted event [`REJECT_QUIET`] after the last refusal), never per
/// event. Shared by reporting threads without a lock (feature `std`).
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct Rejections {
    open: core::sync::atomic::AtomicBool,
    count: core::sync::atomic::AtomicU64,
    /// The platform's clock (ms) at the last refusal.
    last_ms: core::sync::atomic::AtomicU64,
}

#[cfg(feature = "std")]
impl Rejections {
    /// An event was refused with `e` at `now_ms` (the platform's clock):
    /// the notification to give, if this begins an episode.
    pub fn refused(&self, e: &ReportError, now_ms: u64) -> Option<Notification> {
        use core::sync::atomic::Ordering::Relaxed;
        self.count.fetch_add(1, Relaxed);
        self.last_ms.store(now_ms, Relaxed);
        self.open
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_ok()
            .then(|| Notification::EventRejected(e.clone()))
    }

    /// An event was accepted: the notification to give, if this ends an
    /// episode. Costs one load while no episode is open (`now_ms`, the
    /// platform's clock, is only read while one is).
    #[inline]
    pub fn accepted(&self, now_ms: impl FnOnce() -> u64) -> Option<Notification> {
        use core::sync::atomic::Ordering::Relaxed;
        if !self.open.load(Relaxed) {
            return None;
        }
        let quiet = now_ms().saturating_sub(self.last_ms.load(Relaxed));
        if quiet < REJECT_QUIET.as_millis() as u64 {
            return None;
        }
        self.open
            .compare_exchange(true, false, Relaxed, Relaxed)
            .ok()?;
        Some(Notification::RejectionsEnded {
            rejected: self.count.swap(0, Relaxed),
        })
    }
}
