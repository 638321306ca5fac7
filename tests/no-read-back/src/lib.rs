//! Tests only (see `tests/`).
