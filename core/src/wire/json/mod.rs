//! Strict JSON (RFC 8259) validation and compaction, string escaping, and
//! field lookup in compact JSON. No allocation, no recursion.
//!
//! [`compact`] checks a JSON text completely and writes it without the
//! whitespace outside strings, so a pretty-printed event still makes exactly
//! one line on the wire. Unpaired UTF-16 surrogates in `\u` escapes are
//! refused (as serde_json does), and so is a byte-order mark.

mod escape;
mod validate;
mod view;

#[cfg(not(any(target_family = "wasm", target_os = "none")))]
pub(crate) use escape::is_plain;
pub use escape::{write_str, write_str_contents};
pub use validate::*;
pub(crate) use view::unescaped_eq;
pub use view::{JsonStr, JsonView};
