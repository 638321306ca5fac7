//! The sender and its link: the [`sender`] state machine (batching,
//! [`backoff`], [`server_choice`]), the [`link`] a transport adapts its
//! socket to, and the [`driver`] loop that moves bytes and time between
//! link, ring and protocol.

pub mod backoff;
pub mod driver;
pub mod link;
pub mod rng;
pub mod sender;
pub mod server_choice;
pub mod time;
