//! The `no_std`, allocation-free core of the Alooma event SDK.
//!
//! Data flows one way: the caller's event is validated and encoded
//! ([`Encoder`]) straight into a [`Ring`] of wire records; the [`Driver`]
//! runs the [`Sender`] state machine (when to connect, where, what to
//! write) and the [`protocol`] (how records are framed, what the
//! collector's answers confirm) over a transport's [`Link`]. Nothing here
//! does I/O or reads a clock, so every transport shares one behaviour.
//!
//! The layers, one folder each: `wire` (validation and encoding), `buffer`
//! (the ring, confirmation rules, loss), `protocol` (NDJSON, RELP), `send`
//! (sender, backoff, server choice, link, driver), `api` (configuration,
//! errors, notifications, stats, the SDK over a platform), `front` (`log`
//! and `tracing`).
//!
//! ```
//! use alooma_core::{Config, Driver, Failure, Instant, Link, Received, Ring, Stamp, NO_META};
//!
//! /// A link that takes every byte into a `Vec` (a transport adapts a socket).
//! struct Memory(Vec<u8>);
//! impl Link for Memory {
//!     type Detail = &'static str;
//!     fn connect(&mut self, _: usize) -> Result<(), Failure<Self::Detail>> { Ok(()) }
//!     fn poll_connect(&mut self) -> Result<bool, Failure<Self::Detail>> { Ok(true) }
//!     fn write(&mut self, b: &[u8]) -> Result<usize, Failure<Self::Detail>> {
//!         self.0.extend_from_slice(b);
//!         Ok(b.len())
//!     }
//!     fn writable(&mut self) -> Result<bool, Failure<Self::Detail>> { Ok(true) }
//!     fn flush(&mut self) -> Result<bool, Failure<Self::Detail>> { Ok(true) }
//!     fn read(&mut self, _: &mut [u8]) -> Result<Received, Failure<Self::Detail>> {
//!         Ok(Received::Nothing)
//!     }
//!     fn shutdown(&mut self) -> Result<bool, Failure<Self::Detail>> { Ok(true) }
//!     fn close(&mut self) {}
//! }
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
//! let mut driver = Driver::new(cfg.sender(), cfg.wire(), Memory(Vec::new()), [0u8; 512], 42);
//! driver.poll(Instant::ZERO, &mut ring);
//! let sent = &driver.link().0;
//! assert!(sent.starts_with(br#"{"user":"ann","clicks":3,"_metadata":{"event_type":"Rust SDK""#));
//! assert_eq!(ring.stats().sent, 1);
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub(crate) mod api;
pub(crate) mod buffer;
pub(crate) mod front;
pub mod protocol;
pub(crate) mod send;
pub(crate) mod wire;

pub use protocol::relp;
pub use wire::json;

#[cfg(feature = "std")]
pub use api::builder::Builder;
pub use api::config::{
    parse_ip, parse_server, Config, IpLiteral, Protocol, ServerAddr, WhenFull, DEFAULT_INPUT_LABEL,
    DEFAULT_MAX_EVENT_BYTES, DEFAULT_PEER_BUFFER, DEFAULT_PORT, DEFAULT_REPLAY_LIMIT, MAX_SERVERS,
};
pub use api::error::{
    ConfigError, ConfigProblem, EncodeError, ReportError, ServerError, MAX_PROBLEMS,
};
#[cfg(feature = "std")]
pub use api::front::{encode_record, report, Front};
pub use api::notify::{Level, NetError, Notification};
#[cfg(feature = "std")]
pub use api::notify::{Notice, Rejections, REJECT_QUIET};
#[cfg(feature = "std")]
pub use api::platform::{Callback, Parts, Platform, Polled, SeesAcks, WithFile, WithTls};
#[cfg(feature = "std")]
pub use api::sdk::Sdk;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use api::settings::{EventTypeBuf, Settings};
pub use api::stats::{CloseReport, FlushError, Stats};
pub use buffer::confirm::Confirm;
pub use buffer::durable::{FormatError, Found, Recovery, FORMAT_VERSION};
pub use buffer::loss::Loss;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use buffer::ring::Cursor;
pub use buffer::ring::{Pushed, Ring, RingStats, Storage, Transmit};
#[cfg(feature = "log")]
pub use front::logger::Logger;
#[cfg(feature = "tracing")]
pub use front::tracing_layer::TracingLayer;
pub use protocol::relp::{
    RelpConfig, RelpError, DEFAULT_ACK_TIMEOUT, DEFAULT_RELP_WINDOW, RSYSLOG_DEFAULT_MAX_DATA,
};
pub use protocol::{ndjson::Ndjson, Wire};
pub use send::backoff::Backoff;
pub use send::driver::{Driver, Marker, NoMarker};
pub use send::link::{Failure, Link, Received, RingAccess};
pub use send::rng::Rng;
pub use send::sender::{Action, Sender, SenderConfig, SenderStats, ACK_POLL, STABLE_AFTER};
pub use send::server_choice::Strategy;
pub use send::time::Instant;
pub use wire::envelope::{Encoder, Envelope, INPUT_TYPE, LOSS_EVENT_TYPE, NO_META};
pub use wire::event_type::{EventType, TypeFn, TypeName, MAX_TYPE_BYTES};
pub use wire::json::{JsonError, JsonErrorKind, JsonStr, JsonView, Kind};
pub use wire::out::{Full, Out};
pub use wire::ser::{SerError, CUSTOM_TEXT};
pub use wire::stamp::{Stamp, UnixMillis};
#[cfg(feature = "alloc")]
pub use wire::tape::{Replay, Tape};
