//! The Alooma event SDK's driver over WASI Preview 2 sockets, for Wasm
//! guests on `wasm32-wasip2` (wasmtime and other component runtimes).
//!
//! There are no threads in a WASI 0.2 guest, so the guest drives I/O: it
//! reports into a [`Ring`](alooma_core::Ring), calls [`Driver::poll`]
//! whenever it can (it never blocks, and always lets the runtime move
//! pending writes), and [`Driver::wait`] to block until the connection can
//! move or a deadline passes. Reconnection, backoff, server choice and replay
//! come from the core's [`Sender`](alooma_core::Sender), as on every
//! transport. Most users want the `alooma-wasm` crate, which wraps this in the
//! same builder and `report` API as the native SDK.
//!
//! Built for any other target the crate compiles, but calling into it
//! there panics (the WASI imports do not exist): use it on `wasm32-wasip2`.
//!
//! Runtimes grant sockets explicitly: with wasmtime, `-S inherit-network=y`
//! (and `-S allow-ip-name-lookup=y` for server names rather than IP
//! addresses). Without them every attempt fails with
//! [`NetError::Denied`](alooma_core::NetError::Denied) and a detail naming
//! the missing flag; events stay buffered.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod conn;
mod driver;

pub use conn::Failure;
pub use driver::{now, BoxMarker, Driver, WasiLink};
