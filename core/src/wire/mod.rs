//! The wire format: event validation ([`json`]), encoding into records
//! ([`envelope`], [`ser`], [`stamp`]), event-type resolution
//! ([`event_type`]) and the bounded output they write into ([`out`]).

pub mod envelope;
pub mod event_type;
pub mod json;
pub(crate) mod num;
pub mod out;
pub mod ser;
pub mod stamp;
#[cfg(feature = "alloc")]
pub mod tape;
