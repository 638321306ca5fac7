//! What an SDK with `std` needs from its platform (feature `std`): the one
//! [`Sdk`](crate::Sdk) and [`Builder`](crate::Builder) are generic over it,
//! so every public method is written once. The native SDK (`alooma`: a
//! sender thread) and the Wasm SDK (`alooma-wasm`: the caller's own calls
//! move the bytes) each implement [`Platform`]; users never do.

use crate::api::error::{ConfigError, ReportError};
use crate::api::front::Front;
use crate::api::notify::Notice;
use crate::api::settings::Settings;
use crate::api::stats::{CloseReport, FlushError, Stats};
use crate::wire::stamp::UnixMillis;
use core::time::Duration;
use std::boxed::Box;
use std::sync::Arc;

/// A notification callback (see [`Builder::on_notify`](crate::Builder::on_notify)).
pub type Callback = Arc<dyn Fn(&Notice) + Send + Sync>;

/// Everything built from a [`Builder`](crate::Builder), handed to
/// [`Platform::start`]: validated settings and the platform's own.
pub struct Parts<P: Platform> {
    /// The settings, validated.
    pub settings: Settings,
    /// How long dropping the last handle waits to deliver.
    pub drop_timeout: Duration,
    /// The notification callback.
    pub notify: Option<Callback>,
    /// The platform's own settings.
    pub extra: P::Extra,
}

/// The platform under an [`Sdk`](crate::Sdk): where records go, and who
/// sends them. Implemented by the SDK crates.
pub trait Platform: Sized {
    /// Settings only this platform has (the native SDK's TLS), as the
    /// builder holds them; `()` for none.
    type Extra: Default;
    /// Why [`Builder::build`](crate::Builder::build) failed here.
    type BuildError: From<Box<ConfigError>>;

    /// This platform's defaults (buffer size, confirmation rule).
    fn defaults() -> Settings;

    /// Starts the SDK for validated settings.
    fn start(parts: Parts<Self>) -> Result<Self, Self::BuildError>;

    /// Hands `n` to the callback, containing a panic in it (and wherever
    /// else this platform sends its diagnostics).
    fn emit(cb: Option<&Callback>, n: &Notice) {
        if let Some(cb) = cb {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(n)));
        }
    }

    /// The callers' side of this SDK, shared by its handles (see
    /// [`report`](crate::api::front::report), which every `report`
    /// method goes through).
    fn front(&self) -> &Front;

    /// A seed for a reporting thread's `@uuid` generator, from this
    /// platform's random source.
    fn seed() -> u64;

    /// The wall clock: when a notification happened, and `report_time`
    /// through the default [`wall_ms`](Self::wall_ms). (A Wasm guest reads
    /// `wasi:clocks` itself: std's `SystemTime::now` brings 14 KB of error
    /// formatting into a guest.)
    fn wall_clock() -> std::time::SystemTime {
        std::time::SystemTime::now()
    }

    /// The wall clock in Unix milliseconds: a record's `report_time`, read
    /// once per `report`. By default from [`wall_clock`](Self::wall_clock);
    /// a platform that reads its clock more cheaply says so here.
    #[inline]
    fn wall_ms() -> UnixMillis {
        UnixMillis::from_system(Self::wall_clock())
    }

    /// Stores one encoded record under the full-buffer policy, under this
    /// platform's lock, waking its sender as needed; `time` (the record's
    /// `report_time`) dates the losses it counts. A refusal for room is
    /// counted and told per episode by the ring.
    fn store(&self, record: &[u8], time: Option<UnixMillis>) -> Result<(), ReportError>;

    /// Before an event is encoded: under drop-newest, while the buffer is
    /// still too full for the last record it refused, refuses this one
    /// (counted as the ring counts refusals, see
    /// [`Ring::refuse_while_full`](crate::Ring::refuse_while_full)) and
    /// returns the error. `None`: go on.
    fn refuse_early(&self, time: Option<UnixMillis>) -> Option<ReportError> {
        let _ = time;
        None
    }

    /// See [`Sdk::flush`](crate::Sdk::flush).
    fn flush(&self, timeout: Duration) -> Result<(), FlushError>;

    /// See [`Sdk::close`](crate::Sdk::close).
    fn close(&self, timeout: Duration) -> CloseReport;

    /// See [`Sdk::stats`](crate::Sdk::stats).
    fn stats(&self) -> Stats;

    /// See [`Sdk::is_connected`](crate::Sdk::is_connected).
    fn is_connected(&self) -> bool;

    /// The settings the SDK was built with.
    fn settings(&self) -> &Settings {
        &self.front().s
    }
}

/// A platform where nothing moves bytes unless the caller does (a Wasm
/// guest): adds [`Sdk::poll`](crate::Sdk::poll).
pub trait Polled: Platform {
    /// See [`Sdk::poll`](crate::Sdk::poll).
    fn poll(&self) -> Option<Duration>;
}

/// A platform that sees the collector's kernel acknowledge bytes (the
/// native SDK on Linux): adds
/// [`Builder::peer_buffer`](crate::Builder::peer_buffer).
pub trait SeesAcks: Platform {}

/// A platform that can connect with TLS: adds
/// [`Builder::tls`](crate::Builder::tls).
pub trait WithTls: Platform {
    /// The TLS settings.
    type Tls;
    /// Stores `tls` among the platform's own settings.
    fn set_tls(extra: &mut Self::Extra, tls: Self::Tls);
}

/// A platform whose buffer can be a file that outlives the process: adds
/// [`Builder::buffer_file`](crate::Builder::buffer_file) and
/// [`Builder::sync_every`](crate::Builder::sync_every).
pub trait WithFile: Platform {
    /// Keeps the buffer in the file at `path`.
    fn set_buffer_file(extra: &mut Self::Extra, path: std::path::PathBuf);
    /// How often the file is synced to its disk (`None`: never, the OS
    /// writes it back in its own time).
    fn set_sync_every(extra: &mut Self::Extra, every: Option<core::time::Duration>);
}
