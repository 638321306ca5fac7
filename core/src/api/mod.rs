//! The SDK API: [`config`] and its validation, the [`error`]s, the
//! [`notify`] notifications and [`stats`] counts, and (feature `std`) the
//! [`sdk`] over a [`platform`], made by the [`builder`] from owned
//! [`settings`].

#[cfg(feature = "std")]
pub mod builder;
pub mod config;
pub mod error;
#[cfg(feature = "std")]
pub mod front;
pub mod notify;
#[cfg(feature = "std")]
pub mod platform;
#[cfg(feature = "std")]
pub mod sdk;
// `Arc` needs pointer-sized atomics (not on thumbv6m).
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub mod settings;
pub mod stats;
