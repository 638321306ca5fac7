//! The buffer and its confirmation: the fixed-capacity [`ring`] of wire
//! records, the rules that say when the collector has a record
//! ([`confirm`]), and the loss it counts and tells ([`loss`]).

pub(crate) mod checksum;
pub mod confirm;
pub mod durable;
pub mod loss;
pub mod ring;
