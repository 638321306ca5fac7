//! The Alooma event SDK for Wasm guests on `wasm32-wasip2`: WASI programs
//! and edge functions (`wasi:http` components) under wasmtime or any
//! WASI 0.2 runtime that grants TCP sockets.
//!
//! The builder and `report` API are the native SDK's (`alooma`): one
//! [`alooma_core::Sdk`] over a different platform ([`Guest`]). What differs
//! is who moves the bytes: a guest has no threads, so `report` only
//! buffers, `poll` sends what it can without blocking, and `flush` /
//! `close` block until done or a deadline.
//!
//! ```no_run
//! use alooma_wasm::Sdk;
//! use std::time::Duration;
//!
//! let sdk = Sdk::builder()
//!     .token("my-token")
//!     .server("127.0.0.1:5001")
//!     .build()
//!     .expect("valid settings");
//! sdk.report(&serde_json::json!({"user": "ann", "clicks": 3})).unwrap();
//! sdk.poll(); // sends what it can, never blocks
//! let report = sdk.close(Duration::from_secs(2));
//! assert_eq!(report.unsent, 0);
//! ```
//!
//! # In an edge function
//!
//! wasmtime (`wasmtime serve -S cli=y -S inherit-network=y`) makes a new
//! instance per request by default, and keeps one for several requests with
//! `--max-instance-reuse-count N`. Keep the SDK in a `thread_local` so a
//! reused instance keeps its connection, report during the request, send
//! the response, finish its body, then flush with what is left of the
//! request's time budget: the client is not kept waiting (like `waitUntil`
//! elsewhere), and the event is with the OS before the instance can go.
//!
//! ```no_run
//! use alooma_wasm::Sdk;
//! use std::cell::RefCell;
//! use std::time::Duration;
//!
//! thread_local! {
//!     static SDK: RefCell<Option<Sdk>> = const { RefCell::new(None) };
//! }
//!
//! /// Called once the response body is finished.
//! fn after_response(event: &serde_json::Value) {
//!     SDK.with_borrow_mut(|slot| {
//!         if slot.is_none() {
//!             *slot = Sdk::builder().token("t").server("10.0.0.5:5001").build().ok();
//!         }
//!         if let Some(sdk) = slot.as_ref() {
//!             let _ = sdk.report(event);
//!             let _ = sdk.flush(Duration::from_millis(500));
//!         }
//!     });
//! }
//! ```
//! (`examples/edge-function` is a complete component.)
//!
//! # Permissions
//!
//! Runtimes grant sockets explicitly: wasmtime needs `-S inherit-network=y`,
//! and `-S allow-ip-name-lookup=y` for server names rather than IP
//! addresses. Denied, every attempt is notified as a connect failure with
//! [`NetError::Denied`] and a detail naming the flag; events stay buffered
//! (and are counted unsent by `close`). Nothing traps or panics.
//!
//! # Features
//!
//! Off by default, so that a guest pays only for what it uses:
//! - `relp`: [`Protocol::Relp`] (about 11 KB of a guest).
//! - `read-back`: the event type read back from the encoded event, a
//!   dotted [`EventType::field`] path (`"user.kind"`) or
//!   [`EventType::With`] (about 1 KB). Without it the builder refuses both
//!   (`ConfigProblem::EventTypeNeedsReadBack`); a top-level field
//!   (`EventType::field("kind")`, noted while the event is written) works
//!   either way.
//! - `tracing`, `log`: `TracingLayer` and `Logger` as front doors.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod guest;

pub use alooma_core::{
    Backoff, CloseReport, ConfigError, Envelope, EventTypeBuf as EventType, FlushError, JsonView,
    Level, NetError, Notice as Notification, Protocol, RelpError, ReportError, Stats, Strategy,
    TypeName, WhenFull, DEFAULT_RELP_WINDOW,
};
pub use guest::{BuildError, Guest, DEFAULT_BUFFER_BYTES, DEFAULT_REPLAY_LIMIT};

/// The SDK in a Wasm guest. Obtain with `Sdk::builder()`; every method is
/// documented on [`alooma_core::Sdk`], the one SDK type over each platform.
pub type Sdk = alooma_core::Sdk<Guest>;

/// Configures an [`Sdk`]; every setting is documented on
/// [`alooma_core::Builder`].
pub type Builder = alooma_core::Builder<Guest>;

/// `tracing` as a front door (feature `tracing`): every `tracing` event
/// reported through an [`Sdk`] (see [`alooma_core::TracingLayer`]).
#[cfg(feature = "tracing")]
pub type TracingLayer = alooma_core::TracingLayer<Guest>;

/// `log` as a front door (feature `log`): every `log` record reported
/// through an [`Sdk`] (see [`alooma_core::Logger`]).
#[cfg(feature = "log")]
pub type Logger = alooma_core::Logger<Guest>;
