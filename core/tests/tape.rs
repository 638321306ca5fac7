//! The caller's compact copy of an event ([`Tape`]): replayed through the
//! encoder it writes byte for byte what the event itself writes, in every
//! envelope and with every kind of event type; it refuses what the
//! encoder refuses, with the same error; its bound is never short.

use alooma_core::{
    Config, EncodeError, Encoder, Envelope, EventType, Out, SerError, Stamp, Tape, UnixMillis,
    NO_META,
};
use proptest::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Serialize as Derive;
use serde_json::{json, Value};
use std::collections::BTreeMap;

mod common;
use common::{arb_value, short_string};

/// Room for any record here (under Miri less: zeroing it is slow there).
const BIG: usize = if cfg!(miri) { 4096 } else { 1 << 16 };

/// Events, and values that are not events (refused the same way).
fn arb_any() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::btree_map(
            prop_oneof![short_string(), Just("type".to_string()), Just("kind".to_string())],
            arb_value(),
            0..8,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => short_string().prop_map(Value::String),
        1 => arb_value(),
    ]
}

fn encoder(envelope: Envelope, ty: usize) -> Encoder<'static> {
    let mut c = Config::new("tok", &[]);
    c.envelope = envelope;
    c.input_label = "label";
    c.event_type = [
        EventType::Field("type"),
        EventType::Field("kind"),
        EventType::Field("a.b"),
        EventType::Fixed("fixed"),
        EventType::InputLabel,
    ][ty];
    c.encoder()
}

fn stamp() -> Stamp {
    Stamp {
        time: Some(UnixMillis(1_764_000_000_123)),
        uuid: Some([7; 16]),
        location: Some(std::panic::Location::caller()),
    }
}

/// The record `v` encodes to (direct), and the one its tape's replay
/// encodes to, into `cap` bytes.
fn both<T: Serialize + ?Sized, M: Serialize>(
    enc: &Encoder<'_>,
    v: &T,
    meta: Option<&M>,
    cap: usize,
) -> (Result<Vec<u8>, EncodeError>, Result<Vec<u8>, EncodeError>) {
    let run = |f: &dyn Fn(&mut Out<'_>) -> Result<usize, EncodeError>| {
        let mut buf = vec![0u8; cap];
        let mut out = Out::new(&mut buf);
        f(&mut out).map(|n| out.written()[..n].to_vec())
    };
    let direct = run(&|o| enc.encode_value(v, meta, &stamp(), o));
    let mut tape = Tape::new();
    let mut mtape = Tape::new();
    let taped = (|| {
        tape.record(v)?;
        // (The Raw envelope writes no metadata: nor is it recorded.)
        if let Some(m) = meta.filter(|_| enc.envelope != Envelope::Raw) {
            mtape.record_meta(m)?;
        }
        Ok::<_, SerError>(())
    })();
    let replayed = match taped {
        Err(e) => Err(EncodeError::from(e)),
        Ok(()) => {
            let r = tape.replay().expect("recorded");
            let m = mtape.replay();
            run(&|o| enc.encode_value(&r, m.as_ref().filter(|_| meta.is_some()), &stamp(), o))
        }
    };
    if let (Ok(d), Ok(_)) = (&direct, &replayed) {
        // The bound covers the event's own JSON (the Raw envelope's record
        // less its newline).
        let mut buf = vec![0u8; BIG];
        let mut out = Out::new(&mut buf);
        let raw = encoder(Envelope::Raw, 4)
            .encode_value(v, NO_META, &Stamp::default(), &mut out)
            .unwrap();
        assert!(
            raw - 1 <= tape.bound(),
            "bound {} < {}",
            tape.bound(),
            raw - 1
        );
        assert!(!d.is_empty());
    }
    (direct, replayed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 1 } else { 512 }, ..ProptestConfig::default() })]

    /// Any value, every envelope and event type: the replay writes the
    /// same record or returns the same error.
    #[test]
    fn replay_writes_what_the_event_writes(v in arb_any(), env in 0usize..3, ty in 0usize..5) {
        let enc = encoder([Envelope::Metadata, Envelope::Wrapped, Envelope::Raw][env], ty);
        let (d, r) = both(&enc, &v, NO_META, BIG);
        prop_assert_eq!(d, r);
    }

    /// Output too small: both refuse alike (all or nothing).
    #[test]
    fn replay_fills_a_small_output_alike(v in arb_any(), cap in 0usize..600, ty in 0usize..5) {
        let enc = encoder(Envelope::Metadata, ty);
        let (d, r) = both(&enc, &v, NO_META, cap);
        prop_assert_eq!(d, r);
    }

    /// Caller metadata is recorded and replayed too (flattened).
    #[test]
    fn replay_with_metadata(v in arb_any(), m in arb_any(), ty in 0usize..5) {
        let enc = encoder(Envelope::Metadata, ty);
        let (d, r) = both(&enc, &v, Some(&m), BIG);
        prop_assert_eq!(d, r);
    }
}

#[derive(Derive)]
#[serde(rename_all = "snake_case")]
enum Shape {
    Unit,
    Newtype(u32),
    Tuple(i8, String),
    Struct { x: f32, y: Option<f64> },
}

#[derive(Derive)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    shape: Shape,
    shapes: Vec<Shape>,
    big: u128,
    neg: i128,
    c: char,
    unit: (),
    nested: BTreeMap<&'a str, Vec<Option<bool>>>,
    #[serde(serialize_with = "display")]
    shown: f64,
}

fn display<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A map keyed by chars, unit variants and `Display` values.
struct Keys;
impl Serialize for Keys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(&'k', &1)?;
        m.serialize_entry(&Shape::Unit, &2)?;
        m.serialize_entry(&format_args!("t{}", "ype"), "shown")?;
        m.end()
    }
}

struct Bad(usize);
impl Serialize for Bad {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ok", &1)?;
        match self.0 {
            0 => m.serialize_entry(&3, &1)?,
            1 => m.serialize_entry("f", &f64::NAN)?,
            2 => m.serialize_entry("b", &Raw(b"\x01"))?,
            3 => m.serialize_entry("e", &Fail)?,
            _ => m.serialize_entry("k", &Shape::Newtype(1))?,
        }
        m.end()
    }
}
struct Raw<'a>(&'a [u8]);
impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}
struct Fail;
impl Serialize for Fail {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("gone"))
    }
}

/// Nested as deep as asked.
struct Deep(usize);
impl Serialize for Deep {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if self.0 > 0 {
            m.serialize_entry("d", &Deep(self.0 - 1))?;
        }
        m.end()
    }
}

#[test]
fn structs_variants_and_wide_numbers() {
    let mut nested = BTreeMap::new();
    nested.insert("k\"ey", vec![Some(true), None]);
    let ev = Event {
        kind: "order\n",
        shape: Shape::Struct { x: 1.5, y: None },
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(7),
            Shape::Tuple(-3, "é".into()),
            Shape::Struct {
                x: 0.1,
                y: Some(1e300),
            },
        ],
        big: u128::MAX,
        neg: i128::MIN,
        c: '\u{7}',
        unit: (),
        nested,
        shown: 2.25,
    };
    // (Under Miri: one envelope and two event types, for time.)
    let envs: &[Envelope] = if cfg!(miri) {
        &[Envelope::Metadata]
    } else {
        &[Envelope::Metadata, Envelope::Wrapped, Envelope::Raw]
    };
    for &env in envs {
        for ty in if cfg!(miri) { 0..2 } else { 0..5 } {
            let enc = encoder(env, ty);
            for v in [
                &ev as &dyn erased::Ser,
                &Keys,
                &Shape::Unit,
                &Shape::Newtype(3),
            ] {
                let (d, r) = v.both(&enc);
                assert!(d.is_ok() || env != Envelope::Raw || ty > 0, "{d:?}");
                assert_eq!(d, r);
            }
            let meta = json!({"m": [1, "two"]});
            let (d, r) = both(&enc, &ev, Some(&Shape::Struct { x: 2.0, y: None }), BIG);
            assert_eq!(d, r);
            let (d, r) = both(&enc, &ev, Some(&meta), BIG);
            assert_eq!(d, r);
            // Metadata that is not an object: the same refusal (the Raw
            // envelope writes no metadata).
            let (d, r) = both(&enc, &ev, Some(&5), BIG);
            assert_eq!(d.is_err(), env != Envelope::Raw);
            assert_eq!(d, r);
        }
    }
}

#[test]
fn refusals_are_the_encoders() {
    let enc = encoder(Envelope::Metadata, 0);
    for i in 0..5 {
        let (d, r) = both(&enc, &Bad(i), NO_META, BIG);
        assert_eq!(d, r, "case {i}");
        assert_eq!(d.is_err(), i < 4, "case {i}");
    }
    for v in [json!(5), json!([1]), json!(null), json!(true)] {
        let (d, r) = both(&enc, &v, NO_META, BIG);
        assert!(d.is_err());
        assert_eq!(d, r);
    }
    for n in [126, 127, 128] {
        let (d, r) = both(&enc, &Deep(n), NO_META, BIG);
        assert_eq!(d.is_ok(), n < 127, "depth {n}");
        assert_eq!(d, r, "depth {n}");
    }
    // A refused event leaves the tape empty, ready for the next.
    let mut t = Tape::new();
    assert!(t.record(&Bad(1)).is_err());
    assert!(t.is_empty() && t.replay().is_none() && t.bound() == 0);
    t.record(&json!({"a": 1})).unwrap();
    assert!(!t.is_empty() && t.size() > 0);
}

/// Object-safe `both` for a list of differently typed values.
mod erased {
    use super::*;
    pub trait Ser {
        fn both(
            &self,
            enc: &Encoder<'_>,
        ) -> (Result<Vec<u8>, EncodeError>, Result<Vec<u8>, EncodeError>);
    }
    impl<T: Serialize> Ser for T {
        fn both(
            &self,
            enc: &Encoder<'_>,
        ) -> (Result<Vec<u8>, EncodeError>, Result<Vec<u8>, EncodeError>) {
            super::both(enc, self, NO_META, BIG)
        }
    }
}
