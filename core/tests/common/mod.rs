//! Value strategies shared by the encoding tests.

use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value: every scalar (floats with few decimals too, which the
/// encoder writes without ryu), strings needing escapes, nested arrays and
/// objects (smaller under Miri).
pub fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        (0i64..100_000, 0u32..5).prop_map(|(m, d)| json!(m as f64 / 10f64.powi(d as i32))),
        short_string().prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\/a]{0,8}".prop_map(Value::String),
    ];
    let (depth, size) = if cfg!(miri) { (2, 6) } else { (6, 64) };
    leaf.prop_recursive(depth, size, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(short_string(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A string of any chars (shorter under Miri).
pub fn short_string() -> impl Strategy<Value = String> {
    let n = if cfg!(miri) { 4 } else { 24 };
    prop::collection::vec(any::<char>(), 0..n).prop_map(|v| v.into_iter().collect())
}
