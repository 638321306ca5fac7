//! The native Alooma event SDK: report events from any Rust program; a
//! background thread delivers them to a collector over TCP (or TLS) as
//! newline-delimited JSON, reconnecting and failing over as needed.
//!
//! ```no_run
//! use alooma::{Sdk, EventType};
//! use std::time::Duration;
//!
//! let sdk = Sdk::builder()
//!     .token("my-token")
//!     .servers(["collector-a:5001", "collector-b:5001"])
//!     .input_label("checkout")
//!     .event_type(EventType::field("type"))
//!     .on_notify(|n| eprintln!("alooma: {n}"))
//!     .build()?;
//! sdk.report(&serde_json::json!({"type": "purchase", "amount": 12}))?;
//! sdk.report_json(r#"{"type": "view", "path": "/"}"#)?;
//! let report = sdk.close(Duration::from_secs(5));
//! println!("delivered {}, unsent {}", report.delivered, report.unsent);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `report` never blocks (unless `WhenFull::Block` is chosen), never does
//! I/O and never panics: it encodes the event on the caller's thread and
//! copies it into a bounded buffer under a short lock. Everything else
//! happens on the sender thread, which sleeps when there is nothing to do.
#![deny(missing_docs)]
// `unsafe` only at the OS: the `SIOCOUTQ` ioctl in `conn.rs` (acknowledged
// bytes), the buffer file's mapping, lock and allocation in `file.rs`, and
// `clock_gettime` for `report_time` in `native.rs`.
#![deny(unsafe_code)]

mod conn;
mod driver;
mod file;
mod link;
mod native;
mod notify;
mod random;
mod shared;
#[cfg(feature = "tls")]
mod tls;

pub use alooma_core::{
    Backoff, ConfigError, Envelope, JsonView, Level, NetError, Protocol, RelpError, ReportError,
    Strategy, TypeName, WhenFull, DEFAULT_RELP_WINDOW,
};
pub use alooma_core::{CloseReport, EventTypeBuf as EventType, FlushError, Stats};
pub use alooma_core::{FormatError, Recovery};
pub use file::FileError;
pub use native::{
    BuildError, Extra, Native, DEFAULT_BUFFER_BYTES, DEFAULT_REPLAY_LIMIT, DEFAULT_SYNC_EVERY,
};
pub use notify::Notification;
#[cfg(feature = "tls")]
pub use tls::Tls;

/// The native SDK: cheap to clone, `Send + Sync`; a background thread
/// delivers. Obtain with `Sdk::builder()`; every method is documented on
/// [`alooma_core::Sdk`], the one SDK type over each platform.
pub type Sdk = alooma_core::Sdk<Native>;

/// Configures and starts an [`Sdk`]; every setting is documented on
/// [`alooma_core::Builder`].
pub type Builder = alooma_core::Builder<Native>;

/// `tracing` as a front door (feature `tracing`): every `tracing` event
/// reported through an [`Sdk`] (see [`alooma_core::TracingLayer`]).
#[cfg(feature = "tracing")]
pub type TracingLayer = alooma_core::TracingLayer<Native>;

/// `log` as a front door (feature `log`): every `log` record reported
/// through an [`Sdk`] (see [`alooma_core::Logger`]).
#[cfg(feature = "log")]
pub type Logger = alooma_core::Logger<Native>;
