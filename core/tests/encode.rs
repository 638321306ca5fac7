//! Encoding `impl Serialize` events and JSON text into wire records:
//! differential against serde_json, envelopes, event types, typed refusals.

use alooma_core::{
    Config, EncodeError, Encoder, Envelope, EventType, JsonView, Kind, Out, Ring, SerError, Stamp,
    TypeName, UnixMillis, NO_META,
};
use proptest::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

mod common;
use common::{arb_value, short_string};

fn encoder(envelope: Envelope) -> Encoder<'static> {
    let mut c = Config::new("tok", &[]);
    c.envelope = envelope;
    c.input_label = "label";
    c.encoder()
}

fn encode<T: Serialize + ?Sized>(enc: &Encoder<'_>, v: &T) -> Result<String, EncodeError> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Out::new(&mut buf);
    let n = enc.encode_value(v, NO_META, &Stamp::default(), &mut out)?;
    assert_eq!(n, out.len());
    Ok(String::from_utf8(out.written().to_vec()).unwrap())
}

fn arb_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::btree_map(short_string(), arb_value(), 0..8)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        short_string().prop_map(Value::String),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 512 }, ..ProptestConfig::default() })]

    /// Raw envelope: byte-for-byte serde_json's output, plus the newline.
    #[test]
    fn raw_matches_serde_json(v in arb_event()) {
        let ours = encode(&encoder(Envelope::Raw), &v).unwrap();
        let theirs = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(&ours, &format!("{theirs}\n"));
        let back: Value = serde_json::from_str(&ours).unwrap();
        prop_assert_eq!(back, v);
    }

    /// JSON text input, pretty-printed: compacted to one line, same value.
    #[test]
    fn text_is_compacted(v in arb_event()) {
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let enc = encoder(Envelope::Raw);
        let mut buf = vec![0u8; pretty.len() + 2];
        let mut out = Out::new(&mut buf);
        enc.encode_json(pretty.as_bytes(), NO_META, &Stamp::default(), &mut out).unwrap();
        let line = out.written();
        prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(*line.last().unwrap(), b'\n');
        let back: Value = serde_json::from_slice(line).unwrap();
        prop_assert_eq!(back, v);
    }

    /// Metadata envelope: the event's fields are kept, `_metadata` added.
    #[test]
    fn metadata_envelope_keeps_event(v in arb_event()) {
        let line = encode(&encoder(Envelope::Metadata), &v).unwrap();
        prop_assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let mut rec: Value = serde_json::from_str(&line).unwrap();
        let meta = rec.as_object_mut().unwrap().remove("_metadata").unwrap();
        prop_assert_eq!(&meta["input_label"], "label");
        prop_assert_eq!(&meta["input_type"], "Rust SDK");
        prop_assert_eq!(&meta["token"], "tok");
        match &v {
            Value::Object(m) if !m.contains_key("_metadata") => prop_assert_eq!(&rec, &v),
            Value::Object(_) => {}
            s => prop_assert_eq!(&rec, &json!({"message": s})),
        }
    }

    /// Wrapped envelope: the event under `message`.
    #[test]
    fn wrapped_envelope(v in arb_event()) {
        let line = encode(&encoder(Envelope::Wrapped), &v).unwrap();
        let rec: Value = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(&rec["message"], &v);
        prop_assert_eq!(&rec["event_type"], "label");
    }

    /// Any output size gives the same record or a clean refusal, and a
    /// counting pass bounds the size, for every way of choosing the type.
    #[test]
    fn any_output_size_is_all_or_nothing(v in arb_event(), cap in 0usize..600, ty in 0usize..4) {
        let mut c = Config::new("tok", &[]);
        c.input_label = "label";
        static F: &alooma_core::TypeFn = &|ev: JsonView<'_>| ev.get_str("a").map(TypeName::Json);
        c.event_type = [EventType::InputLabel, EventType::Fixed("fx"), EventType::Field("a"), EventType::With(F)][ty];
        let enc = c.encoder();
        let full = encode(&enc, &v).unwrap();
        let mut counter = Out::counter(usize::MAX);
        enc.encode_value(&v, NO_META, &Stamp::default(), &mut counter).unwrap();
        prop_assert!(counter.len() <= full.len() && full.len() <= counter.len() + counter.slack());
        let mut buf = vec![0u8; cap];
        let mut out = Out::new(&mut buf);
        match enc.encode_value(&v, NO_META, &Stamp::default(), &mut out) {
            Ok(n) => { prop_assert_eq!(&buf[..n], full.as_bytes()); }
            Err(e) => { prop_assert_eq!(e, EncodeError::Full); prop_assert!(full.len() > cap); }
        }
    }
}

#[test]
fn metadata_fields_and_stamp() {
    #[derive(serde::Serialize)]
    struct Click<'a> {
        user: &'a str,
        n: u32,
    }
    let enc = encoder(Envelope::Metadata);
    let stamp = Stamp {
        time: Some(UnixMillis(1_795_737_375_123)),
        uuid: Some([0x11; 16]),
        location: Some(std::panic::Location::caller()),
    };
    let mut buf = vec![0u8; 4096];
    let mut out = Out::new(&mut buf);
    let meta = json!({"region": "eu", "n": 2});
    enc.encode_value(&Click { user: "ann", n: 3 }, Some(&meta), &stamp, &mut out)
        .unwrap();
    let rec: Value = serde_json::from_slice(out.written()).unwrap();
    assert_eq!(rec["user"], "ann");
    assert_eq!(rec["n"], 3);
    let m = &rec["_metadata"];
    assert_eq!(m["report_time"], "2026-11-26T23:56:15.123Z");
    assert_eq!(m["@uuid"], "11111111-1111-4111-9111-111111111111");
    assert_eq!(m["calling_file"], file!());
    assert!(m["calling_line"].as_u64().unwrap() > 0);
    assert_eq!(m["region"], "eu");
    assert_eq!(m["n"], 2);
    assert_eq!(m["event_type"], "label");
}

#[test]
fn event_type_resolution() {
    let mut c = Config::new("tok", &[]);
    c.input_label = "fallback";
    let ty = |c: &Config<'_>, ev: &Value| -> Value {
        let mut buf = vec![0u8; 4096];
        let mut out = Out::new(&mut buf);
        c.encoder()
            .encode_value(ev, NO_META, &Stamp::default(), &mut out)
            .unwrap();
        let rec: Value = serde_json::from_slice(out.written()).unwrap();
        rec["_metadata"]["event_type"].clone()
    };
    c.event_type = EventType::Fixed("fixed \"q\"");
    assert_eq!(ty(&c, &json!({"a": 1})), "fixed \"q\"");
    c.event_type = EventType::Field("kind");
    assert_eq!(ty(&c, &json!({"kind": "click"})), "click");
    assert_eq!(
        ty(&c, &json!({"kind": "tab\there \u{e9}"})),
        "tab\there \u{e9}"
    );
    assert_eq!(ty(&c, &json!({"kind": 5})), "fallback");
    assert_eq!(ty(&c, &json!({"other": 5})), "fallback");
    assert_eq!(ty(&c, &json!("a string event")), "fallback");
    assert_eq!(ty(&c, &json!({"kind": "x".repeat(300)})), "fallback");
    c.event_type = EventType::Field("meta.kind");
    assert_eq!(
        ty(&c, &json!({"meta": {"kind": "deep"}, "kind": "top"})),
        "deep"
    );
    assert_eq!(ty(&c, &json!({"meta": "notobj"})), "fallback");
    static F: &alooma_core::TypeFn = &|ev: JsonView<'_>| match ev.get("n").map(|v| v.kind()) {
        Some(Kind::Number) => Some(TypeName::Text("numbered")),
        _ => ev.get_str("name").map(TypeName::Json),
    };
    c.event_type = EventType::With(F);
    assert_eq!(ty(&c, &json!({"n": 1})), "numbered");
    assert_eq!(ty(&c, &json!({"name": "nm"})), "nm");
    assert_eq!(ty(&c, &json!({})), "fallback");
}

struct Bytes;
impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("b", &serde_bytes_like(&[1, 2]))?;
        m.end()
    }
}
struct RawBytes<'a>(&'a [u8]);
impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}
fn serde_bytes_like(b: &[u8]) -> RawBytes<'_> {
    RawBytes(b)
}

struct Failing;
impl Serialize for Failing {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "the clock is gone and this message is rather long so it gets cut off somewhere",
        ))
    }
}

#[test]
fn refusals_are_typed() {
    let enc = encoder(Envelope::Metadata);
    assert_eq!(
        encode(&enc, &5),
        Err(EncodeError::NotObjectOrString(Kind::Number))
    );
    assert_eq!(
        encode(&enc, &[1, 2]),
        Err(EncodeError::NotObjectOrString(Kind::Array))
    );
    assert_eq!(
        encode(&enc, &()),
        Err(EncodeError::NotObjectOrString(Kind::Null))
    );
    assert_eq!(
        encode(&enc, &true),
        Err(EncodeError::NotObjectOrString(Kind::Bool))
    );
    assert_eq!(
        encode(&enc, &None::<String>),
        Err(EncodeError::NotObjectOrString(Kind::Null))
    );
    assert_eq!(
        encode(&enc, &json!(null)),
        Err(EncodeError::NotObjectOrString(Kind::Null))
    );
    let mut m = HashMap::new();
    m.insert(1u32, "x");
    assert_eq!(
        encode(&enc, &m),
        Err(EncodeError::Unsupported(SerError::NonStringKey))
    );
    let mut m = BTreeMap::new();
    m.insert("x", f64::NAN);
    assert_eq!(
        encode(&enc, &m),
        Err(EncodeError::Unsupported(SerError::NonFiniteFloat))
    );
    let mut m = BTreeMap::new();
    m.insert("x", f32::INFINITY);
    assert_eq!(
        encode(&enc, &m),
        Err(EncodeError::Unsupported(SerError::NonFiniteFloat))
    );
    assert_eq!(
        encode(&enc, &Bytes),
        Err(EncodeError::Unsupported(SerError::Bytes))
    );
    match encode(&enc, &Failing) {
        Err(EncodeError::Unsupported(SerError::Custom(msg))) => {
            assert!(msg.starts_with("the clock is gone"))
        }
        other => panic!("{other:?}"),
    }
    // {"a":{"a":…}} 200 deep, without building it on the heap.
    struct Deep(usize);
    impl Serialize for Deep {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(1))?;
            if self.0 > 0 {
                m.serialize_entry("a", &Deep(self.0 - 1))?;
            }
            m.end()
        }
    }
    let deep = Deep(200);
    assert_eq!(
        encode(&enc, &deep),
        Err(EncodeError::Unsupported(SerError::TooDeep))
    );
    // Allowed shapes: unit variant (string), newtype/struct variants (object), char.
    #[derive(serde::Serialize)]
    enum E {
        Unit,
        New(u8),
        Tup(u8, u8),
        Rec { a: u8 },
    }
    assert_eq!(
        encode(&encoder(Envelope::Raw), &E::Unit).unwrap(),
        "\"Unit\"\n"
    );
    assert_eq!(
        encode(&encoder(Envelope::Raw), &E::New(1)).unwrap(),
        "{\"New\":1}\n"
    );
    assert_eq!(
        encode(&encoder(Envelope::Raw), &E::Tup(1, 2)).unwrap(),
        "{\"Tup\":[1,2]}\n"
    );
    assert_eq!(
        encode(&encoder(Envelope::Raw), &E::Rec { a: 1 }).unwrap(),
        "{\"Rec\":{\"a\":1}}\n"
    );
    assert_eq!(encode(&encoder(Envelope::Raw), &'x').unwrap(), "\"x\"\n");
    // Metadata must be an object; variants flatten.
    let mut buf = vec![0u8; 1024];
    let mut out = Out::new(&mut buf);
    assert_eq!(
        enc.encode_value(&json!({}), Some(&7), &Stamp::default(), &mut out),
        Err(EncodeError::MetadataNotObject(Kind::Number))
    );
    let mut out = Out::new(&mut buf);
    enc.encode_value(
        &json!({}),
        Some(&E::Rec { a: 4 }),
        &Stamp::default(),
        &mut out,
    )
    .unwrap();
    let rec: Value = serde_json::from_slice(out.written()).unwrap();
    assert_eq!(rec["_metadata"]["Rec"], json!({"a": 4}));
}

#[test]
fn refused_events_leave_the_ring_untouched() {
    let enc = encoder(Envelope::Metadata);
    let mut ring: Ring<[u8; 1024]> = Ring::new();
    ring.push_with(false, 1024, |o| {
        enc.encode_value(&json!({"ok": 1}), NO_META, &Stamp::default(), o)
    })
    .unwrap();
    let before = ring.contents().first.to_vec();
    for bad in [json!(1), json!([1]), json!(null)] {
        assert!(ring
            .push_with(false, 1024, |o| enc.encode_value(
                &bad,
                NO_META,
                &Stamp::default(),
                o
            ))
            .is_err());
    }
    assert!(ring
        .push_with(false, 1024, |o| enc.encode_json(
            b"{\"a\":tru}",
            NO_META,
            &Stamp::default(),
            o
        ))
        .is_err());
    let mut m = BTreeMap::new();
    m.insert("x", f64::NAN);
    assert!(ring
        .push_with(false, 1024, |o| enc.encode_value(
            &m,
            NO_META,
            &Stamp::default(),
            o
        ))
        .is_err());
    assert_eq!(ring.records(), 1);
    assert_eq!(ring.contents().first, &before[..]);
    assert_eq!(ring.stats().dropped_newest, 0);
}

/// A number as a struct event's only field (a struct, not a map: the
/// fast paths of struct fields are the ones under test).
#[derive(serde::Serialize)]
struct Num {
    x: f64,
}

fn arb_decimal() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Few decimals, any size: the common case, written without ryu.
        (any::<i64>(), 0u32..6)
            .prop_map(|(m, d)| (m % 10_000_000_000_000_000) as f64 / 10f64.powi(d as i32)),
        (-100_000i64..100_000, 0u32..6).prop_map(|(m, d)| m as f64 / 10f64.powi(d as i32)),
        // Near the 2^52 bound, where the fast path gives way to ryu.
        (0u64..4096, 0u32..5)
            .prop_map(|(k, d)| ((1u64 << 52) - 2048 + k) as f64 / 10f64.powi(d as i32)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(0.0),
        Just(-0.0),
    ]
}

/// Type names read from a struct's own fields, whatever their values.
#[derive(serde::Serialize)]
struct Typed<'a> {
    first: u8,
    #[serde(rename = "type")]
    ty: &'a str,
    last: Vec<&'a str>,
}

#[derive(serde::Serialize)]
struct TypedOpt<'a> {
    #[serde(rename = "type")]
    ty: Option<&'a str>,
    nested: Typed<'a>,
}

#[derive(serde::Serialize)]
struct TypedNum {
    #[serde(rename = "type")]
    ty: u32,
    other: &'static str,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 16 } else { 20_000 }, ..ProptestConfig::default() })]

    /// Floats: byte-for-byte serde_json's text (ryu's shortest digits),
    /// inside a struct event.
    #[test]
    fn floats_match_serde_json(x in arb_decimal()) {
        let ours = encode(&encoder(Envelope::Raw), &Num { x }).unwrap();
        let theirs = serde_json::to_string(&Num { x }).unwrap();
        prop_assert_eq!(ours, format!("{theirs}\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 512 }, ..ProptestConfig::default() })]

    /// The type read from a struct's field as it is written is the one
    /// found in the map it serializes to in serde_json, for every value
    /// shape.
    #[test]
    fn struct_field_types_match_read_back(ty in short_string(), other in short_string(), shape in 0usize..4, env in 0usize..2) {
        let mut c = Config::new("tok", &[]);
        c.input_label = "label";
        c.envelope = [Envelope::Metadata, Envelope::Wrapped][env];
        c.event_type = EventType::Field("type");
        let enc = c.encoder();
        let (ours, back) = match shape {
            0 => {
                let v = Typed { first: 1, ty: &ty, last: vec![&other] };
                (encode(&enc, &v).unwrap(), serde_json::to_value(&v).unwrap())
            }
            1 => {
                let v = TypedOpt { ty: Some(&ty), nested: Typed { first: 2, ty: &other, last: vec![] } };
                (encode(&enc, &v).unwrap(), serde_json::to_value(&v).unwrap())
            }
            2 => {
                let v = TypedOpt { ty: None, nested: Typed { first: 2, ty: &other, last: vec![&ty] } };
                (encode(&enc, &v).unwrap(), serde_json::to_value(&v).unwrap())
            }
            _ => {
                let v = TypedNum { ty: 7, other: "x" };
                (encode(&enc, &v).unwrap(), serde_json::to_value(&v).unwrap())
            }
        };
        // The same event as a map (serde_json's Value): its type is read back.
        let theirs = encode(&enc, &back).unwrap();
        let t = |line: &str| {
            let v: Value = serde_json::from_str(line).unwrap();
            match env {
                0 => v["_metadata"]["event_type"].clone(),
                _ => v["event_type"].clone(),
            }
        };
        prop_assert_eq!(t(&ours), t(&theirs));
        // A name longer than the limit (escaped) falls back to the label.
        let fits = serde_json::to_string(&ty).unwrap().len() - 2 <= alooma_core::MAX_TYPE_BYTES;
        let expect = match shape {
            0 | 1 if fits => json!(ty),
            _ => json!("label"),
        };
        prop_assert_eq!(t(&ours), expect);
    }
}

/// The type as a function reading the encoded event back: what
/// `EventType::Field("type")` must find without reading back.
fn type_read_back(v: JsonView<'_>) -> Option<TypeName<'_>> {
    v.get_str("type").map(TypeName::Json)
}

fn json_record(enc: &Encoder<'_>, text: &str) -> Result<String, EncodeError> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Out::new(&mut buf);
    enc.encode_json(text.as_bytes(), NO_META, &Stamp::default(), &mut out)?;
    Ok(String::from_utf8(out.written().to_vec()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 1024 }, ..ProptestConfig::default() })]

    /// A top-level type field noted while a map or JSON text is written
    /// (keys escaped, repeated, values of every kind, absent) gives the same
    /// record, byte for byte, as reading the encoded event back.
    #[test]
    fn noted_types_match_read_back(
        m in prop::collection::btree_map(short_string(), arb_value(), 0..6),
        ty in prop_oneof![short_string().prop_map(Value::String), arb_value()],
        put in any::<bool>(),
        escaped in any::<bool>(),
        dup in prop_oneof![short_string().prop_map(Value::String), arb_value()],
        repeat in any::<bool>(),
        env in 0usize..2,
    ) {
        let mut m: serde_json::Map<String, Value> = m.into_iter().collect();
        if put {
            m.insert("type".into(), ty);
        }
        let v = Value::Object(m);
        let mut c = Config::new("tok", &[]);
        c.input_label = "label";
        c.envelope = [Envelope::Metadata, Envelope::Wrapped][env];
        c.event_type = EventType::Field("type");
        let noted = c.encoder();
        c.event_type = EventType::With(&type_read_back);
        let back = c.encoder();
        // A map (serde_json's Value) through the serializer.
        prop_assert_eq!(encode(&noted, &v).unwrap(), encode(&back, &v).unwrap());
        // JSON text, the key perhaps escaped, perhaps repeated (the first wins).
        let mut text = serde_json::to_string(&v).unwrap();
        if escaped {
            text = text.replace("\"type\":", "\"t\\u0079pe\":");
        }
        if repeat {
            text.pop();
            if text.len() > 1 {
                text.push(',');
            }
            text.push_str("\"type\":");
            text.push_str(&serde_json::to_string(&dup).unwrap());
            text.push('}');
        }
        prop_assert_eq!(json_record(&noted, &text).unwrap(), json_record(&back, &text).unwrap());
    }
}

#[test]
fn noted_types_in_text_maps_and_variants() {
    let mut c = Config::new("tok", &[]);
    c.input_label = "label";
    c.event_type = EventType::Field("type");
    let enc = c.encoder();
    let t = |line: &str| {
        let v: Value = serde_json::from_str(line).unwrap();
        v["_metadata"]["event_type"].clone()
    };
    for (text, want) in [
        (r#"{"type":"a","type":"b"}"#, "a"),
        (r#"{"type":1,"type":"b"}"#, "label"),
        (r#"{"t\u0079pe":"c\"d"}"#, "c\"d"),
        (r#"{"x":{"type":"nested"}}"#, "label"),
        (r#"{"x":["type"],"type":"e"}"#, "e"),
        (r#"{}"#, "label"),
        (r#""just text""#, "label"),
    ] {
        assert_eq!(t(&json_record(&enc, text).unwrap()), json!(want), "{text}");
    }
    #[derive(serde::Serialize)]
    enum E {
        #[serde(rename = "type")]
        Named(&'static str),
        Other {
            r#type: &'static str,
        },
    }
    assert_eq!(
        t(&encode(&enc, &E::Named("variant")).unwrap()),
        json!("variant")
    );
    assert_eq!(
        t(&encode(&enc, &E::Other { r#type: "inner" }).unwrap()),
        json!("label")
    );
    let mut m = BTreeMap::new();
    m.insert("type", "from a map");
    assert_eq!(t(&encode(&enc, &m).unwrap()), json!("from a map"));
}

/// A fixed type name is written as it is while its escaped text fits
/// `MAX_TYPE_BYTES`, the input label beyond; a record measured without
/// room (a counter) has the very size the record is written with.
#[test]
fn fixed_type_names_up_to_the_limit() {
    let max = alooma_core::MAX_TYPE_BYTES;
    for (name, fits) in [
        ("a".repeat(max), true),
        ("a".repeat(max + 1), false),
        (format!("{}\"", "a".repeat(max - 2)), true), // `\"`: two bytes
        (format!("{}\"", "a".repeat(max - 1)), false),
        (format!("{}\u{1}", "a".repeat(max - 6)), true), // `\u0001`: six
        (format!("{}\u{1}", "a".repeat(max - 5)), false),
    ] {
        for env in [Envelope::Metadata, Envelope::Wrapped] {
            let mut c = Config::new("tok", &[]);
            c.envelope = env;
            c.input_label = "label";
            c.event_type = EventType::Fixed(&name);
            let enc = c.encoder();
            let line = encode(&enc, &json!({"x": 1})).unwrap();
            let v: Value = serde_json::from_str(&line).unwrap();
            let t = match env {
                Envelope::Metadata => &v["_metadata"]["event_type"],
                _ => &v["event_type"],
            };
            let want = if fits { name.as_str() } else { "label" };
            assert_eq!(t, want, "{} bytes", name.len());
            let mut counter = Out::counter(usize::MAX);
            enc.encode_value(&json!({"x": 1}), NO_META, &Stamp::default(), &mut counter)
                .unwrap();
            assert_eq!(counter.len(), line.len());
        }
    }
}
