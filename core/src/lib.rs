//! The `no_std`, allocation-free core of the Alooma event SDK.
//!
//! Data flows one way: the caller's event is validated and encoded
//! ([`Encoder`]) straight into a [`Ring`] of wire records; the [`Sender`]
//! state machine decides when to connect, where, and what to write; a
//! transport driver (mio thread, WASI pollables, embedded-io stream) carries
//! out its [`Action`]s and reports back. Nothing here does I/O or reads a
//! clock, so every transport shares one behaviour.
//!
//! ```
//! use alooma_core::{Config, Ring, Sender, Stamp, Action, Instant, NO_META};
//!
//! static SERVERS: [&str; 1] = ["127.0.0.1:5001"];
//! let mut cfg = Config::new("my-token", &SERVERS);
//! cfg.replay_limit = 1024; // the replay window: at most half the ring
//! let mut ring: Ring<[u8; 4096]> = Ring::new();
//! cfg.validate(ring.capacity()).unwrap();
//! let enc = cfg.encoder();
//! cfg.push(&mut ring, |out| {
//!     enc.encode_json(br#"{"user": "ann", "clicks": 3}"#, NO_META, &Stamp::default(), out)
//! })
//! .unwrap();
//! let mut sender = Sender::new(cfg.sender(), 42);
//! assert_eq!(sender.poll(Instant::ZERO, &ring), Action::Connect { server: 0 });
//! sender.on_connected(Instant::ZERO);
//! let Action::Transmit { max } = sender.poll(Instant::ZERO, &ring) else { panic!() };
//! let bytes = ring.transmit(max);
//! assert!(bytes.first.starts_with(br#"{"user":"ann","clicks":3,"_metadata":{"event_type":"Rust SDK""#));
//! let n = bytes.len();
//! sender.on_sent(Instant::ZERO, n, &mut ring);
//! ```
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod backoff;
#[cfg(feature = "std")]
mod builder;
mod config;
mod confirm;
mod driver;
mod envelope;
mod error;
mod event_type;
pub mod json;
mod link;
#[cfg(any(feature = "tracing", feature = "log"))]
mod log_event;
#[cfg(feature = "log")]
mod logger;
mod loss;
mod notify;
mod out;
#[cfg(feature = "std")]
mod platform;
pub mod relp;
mod ring;
mod rng;
#[cfg(feature = "std")]
mod sdk;
mod sender;
mod ser;
mod server_choice;
mod stamp;
// `Arc` needs pointer-sized atomics (not on thumbv6m).
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
mod settings;
mod stats;
mod time;
#[cfg(feature = "tracing")]
mod tracing_layer;

pub use backoff::Backoff;
#[cfg(feature = "std")]
pub use builder::Builder;
pub use config::{
    parse_server, Config, Protocol, ServerAddr, WhenFull, DEFAULT_INPUT_LABEL,
    DEFAULT_MAX_EVENT_BYTES, DEFAULT_PEER_BUFFER, DEFAULT_PORT, DEFAULT_REPLAY_LIMIT, MAX_SERVERS,
};
pub use confirm::Confirm;
pub use driver::{Driver, Marker, NoMarker};
pub use envelope::{Encoder, Envelope, INPUT_TYPE, LOSS_EVENT_TYPE, NO_META};
pub use error::{ConfigError, ConfigProblem, EncodeError, ReportError, ServerError, MAX_PROBLEMS};
pub use event_type::{EventType, TypeFn, TypeName, MAX_TYPE_BYTES};
pub use json::{JsonError, JsonErrorKind, JsonStr, JsonView, Kind};
pub use link::{Failure, Link, Received, RingAccess};
#[cfg(feature = "log")]
pub use logger::Logger;
pub use loss::Loss;
pub use notify::{Level, NetError, Notification};
#[cfg(feature = "std")]
pub use notify::{Notice, Rejections, REJECT_QUIET};
pub use out::{Full, Out};
#[cfg(feature = "std")]
pub use platform::{encode_record, Callback, Parts, Platform, Polled, SeesAcks, WithTls};
pub use relp::{
    RelpConfig, RelpError, DEFAULT_ACK_TIMEOUT, DEFAULT_RELP_WINDOW, RSYSLOG_DEFAULT_MAX_DATA,
};
pub use ring::{Pushed, Ring, RingStats, Storage, Transmit};
pub use rng::Rng;
#[cfg(feature = "std")]
pub use sdk::Sdk;
pub use sender::{Action, Sender, SenderConfig, SenderStats, ACK_POLL, STABLE_AFTER};
pub use ser::SerError;
pub use server_choice::Strategy;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use settings::{EventTypeBuf, Settings};
pub use stamp::{Stamp, UnixMillis};
pub use stats::{CloseReport, FlushError, Stats};
pub use time::Instant;
#[cfg(feature = "tracing")]
pub use tracing_layer::TracingLayer;
