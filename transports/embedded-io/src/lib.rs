//! The Alooma event SDK on devices: a driver over any [`embedded_io::Write`]
//! stream, `no_std`, no allocator.
//!
//! You bring the link ([`Connector`]: your TCP stack, modem or UART) and
//! the time ([`Instant`] from your tick counter); reconnection, backoff,
//! batching and replay come from `alooma-core`'s sender state machine, the
//! same as on every other transport.
//!
//! Events can be reported from interrupt handlers into an [`IrqRing`]
//! (a `static`, guarded by a critical section; the only full-buffer policy
//! there is drop-newest) and drained by [`Driver::poll`] in the main loop.
//!
//! ```
//! use alooma_core::{Config, Instant, NetError, ServerAddr, Stamp, NO_META};
//! use alooma_embedded_io::{Connector, Driver, IrqRing, Stream};
//!
//! struct Loop(Vec<u8>); // stands in for a UART or TCP socket
//! impl embedded_io::ErrorType for Loop { type Error = core::convert::Infallible; }
//! impl embedded_io::Write for Loop {
//!     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { self.0.extend_from_slice(b); Ok(b.len()) }
//!     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
//! }
//! impl Stream for Loop {}
//! struct Dial;
//! impl Connector for Dial {
//!     type Stream = Loop;
//!     fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Loop, NetError> { Ok(Loop(Vec::new())) }
//! }
//!
//! static SERVERS: [&str; 1] = ["collector:5001"];
//! static CONFIG: Config<'static> = Config::new("token", &SERVERS);
//! static RING: IrqRing<4096> = IrqRing::new();
//!
//! // Anywhere, interrupt handlers included:
//! let enc = CONFIG.encoder();
//! RING.push(&CONFIG, |out| enc.encode_json(br#"{"t":21.5}"#, NO_META, &Stamp::default(), out)).unwrap();
//! // Main loop:
//! let mut driver = Driver::new(&CONFIG, Dial, 1);
//! let _next_wake = driver.poll(Instant::from_millis(0), &RING);
//! assert_eq!(RING.with(|r| r.unsent_records()), Some(0));
//! ```
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod driver;
mod irq_ring;
mod stream;

pub use alooma_core::RingAccess;
pub use driver::{Driver, StreamLink, CHUNK};
pub use irq_ring::{IrqRing, IrqSlot};
pub use stream::{net_error, Connector, PeerState, ReadEof, Stream};

pub use alooma_core::{Instant, NetError, ServerAddr};
