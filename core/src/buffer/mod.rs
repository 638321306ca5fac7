//! The buffer and its confirmation: the fixed-capacity [`ring`] of wire
//! records, the rules that say when the collector has a record
//! ([`confirm`]), and the loss it counts and tells ([`loss`]).

pub mod confirm;
pub mod loss;
pub mod ring;
