//! alooma-core without `read-back` (as the device firmware builds it): an
//! event's type comes from a top-level field noted while the event is
//! written, for structs, maps, enum variants and JSON text alike, and the
//! settings that would need the encoded event read back are refused.

use alooma_core::{
    Config, ConfigProblem, Encoder, EventType, JsonView, Out, Stamp, TypeName, NO_META,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn encoder(event_type: EventType<'static>) -> Encoder<'static> {
    let mut c = Config::new("tok", &[]);
    c.input_label = "label";
    c.event_type = event_type;
    c.encoder()
}

fn type_of(line: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(line).unwrap();
    v["_metadata"]["event_type"].clone()
}

fn value_type<T: Serialize>(enc: &Encoder<'_>, v: &T) -> Value {
    let mut buf = [0u8; 1024];
    let mut out = Out::new(&mut buf);
    enc.encode_value(v, NO_META, &Stamp::default(), &mut out)
        .unwrap();
    type_of(out.written())
}

fn text_type(enc: &Encoder<'_>, text: &str) -> Value {
    let mut buf = [0u8; 1024];
    let mut out = Out::new(&mut buf);
    enc.encode_json(text.as_bytes(), NO_META, &Stamp::default(), &mut out)
        .unwrap();
    type_of(out.written())
}

#[derive(Serialize)]
struct Reading {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u32,
}

#[derive(Serialize)]
enum Variant {
    #[serde(rename = "type")]
    Named(&'static str),
}

#[test]
fn top_level_types_are_noted_while_writing() {
    let enc = encoder(EventType::Field("type"));
    assert_eq!(
        value_type(
            &enc,
            &Reading {
                kind: "temperature",
                seq: 1
            }
        ),
        json!("temperature")
    );
    let mut m = BTreeMap::new();
    m.insert("a", "x");
    m.insert("type", "from a map");
    assert_eq!(value_type(&enc, &m), json!("from a map"));
    assert_eq!(
        value_type(&enc, &Variant::Named("variant")),
        json!("variant")
    );
    for (text, want) in [
        (r#"{"type":"a","type":"b"}"#, "a"),
        (r#"{"t\u0079pe":"escaped key"}"#, "escaped key"),
        (r#"{"type":7}"#, "label"),
        (r#"{"x":{"type":"nested"}}"#, "label"),
        (r#" { "n" : [ "type" ] , "type" : "spaced" } "#, "spaced"),
        (r#""a string event""#, "label"),
    ] {
        assert_eq!(text_type(&enc, text), json!(want), "{text}");
    }
    // No field asked for: the label, or the fixed name.
    assert_eq!(
        value_type(&encoder(EventType::InputLabel), &m),
        json!("label")
    );
    assert_eq!(
        value_type(&encoder(EventType::Fixed("fixed")), &m),
        json!("fixed")
    );
}

fn by_function(v: JsonView<'_>) -> Option<TypeName<'_>> {
    v.get_str("type").map(TypeName::Json)
}

#[test]
fn settings_that_read_back_are_refused() {
    let servers = ["127.0.0.1:5001"];
    for t in [EventType::Field("meta.kind"), EventType::With(&by_function)] {
        let mut c = Config::new("tok", &servers);
        c.event_type = t;
        let e = c.validate(1 << 20).unwrap_err();
        assert!(
            e.problems()
                .contains(&ConfigProblem::EventTypeNeedsReadBack),
            "{e}"
        );
        assert!(e.to_string().contains("read-back"), "{e}");
    }
    let mut c = Config::new("tok", &servers);
    c.event_type = EventType::Field("type");
    c.validate(1 << 20).unwrap();
}
