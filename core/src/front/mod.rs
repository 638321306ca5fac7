//! The front doors: events from the `log` crate ([`logger`]) and from
//! `tracing` ([`tracing_layer`]), both through [`log_event`].

#[cfg(any(feature = "tracing", feature = "log"))]
pub mod log_event;
#[cfg(feature = "log")]
pub mod logger;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
