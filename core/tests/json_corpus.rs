//! Differential tests of the strict JSON validator/compactor against
//! serde_json (the oracle): a corpus of RFC 8259 edge cases, valid and
//! invalid, plus generated ones.

use alooma_core::json::{compact, validate, CompactError, JsonErrorKind, Kind, MAX_DEPTH};
use alooma_core::Out;

fn corpus() -> Vec<Vec<u8>> {
    let mut c: Vec<Vec<u8>> = Vec::new();
    let texts: &[&str] = &[
        // objects and arrays
        "{}",
        "[]",
        "{ }",
        "[ ]",
        " {}",
        "{} ",
        "\n\t\r {}\n",
        "{\"a\":1}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"b\":2}",
        "{\"a\":[1,2,{\"b\":null}]}",
        "[1,2,3]",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[",
        "]",
        "{",
        "}",
        "[[]]",
        "[[],[]]",
        "[{}]",
        "{\"\":0}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":{\"c\":{}}}}",
        "{\"a\"::1}",
        "{\"a\":1}}",
        "[1]]",
        "{\"a\":1]",
        "[1}",
        // literals
        "true",
        "false",
        "null",
        "tru",
        "nul",
        "nulll",
        "True",
        "NULL",
        "[true,false,null]",
        "[truefalse]",
        "t",
        "nullx",
        // numbers
        "0",
        "-0",
        "1",
        "-1",
        "10",
        "01",
        "-01",
        "00",
        "1.0",
        "1.",
        ".1",
        "-.1",
        "1e5",
        "1E5",
        "1e+5",
        "1e-5",
        "1e",
        "1e+",
        "1e-",
        "-",
        "+1",
        "1.5e3",
        "-1.5E-3",
        "0.0",
        "0e0",
        "0E+0",
        "1.e1",
        "1.0e",
        "0x10",
        "Infinity",
        "-Infinity",
        "NaN",
        "123456789012345678901234567890",
        "-123456789012345678901234567890",
        "1e308",
        "1e309",
        "-1e309",
        "1e400",
        "1.7976931348623157e308",
        "1.8e308",
        "1e-400",
        "4.9e-324",
        "[1e999]",
        "2e-5000",
        "9007199254740993",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "1_000",
        "1 000",
        "[-]",
        "[-a]",
        "0.000000000000000000000000000001e330",
        // exponents past u64 (found by the fuzzer: must not overflow)
        "1e99999999999999999999999",
        "1e-99999999999999999999999",
        "[9e18446744073709551616]",
        // strings
        "\"\"",
        "\"a\"",
        "\"abc",
        "\"\\\"\"",
        "\"\\\\\"",
        "\"\\/\"",
        "\"\\b\\f\\n\\r\\t\"",
        "\"\\a\"",
        "\"\\x41\"",
        "\"\\'\"",
        "\"\\u0041\"",
        "\"\\u00e9\"",
        "\"\\u00E9\"",
        "\"\\u004\"",
        "\"\\u00G1\"",
        "\"\\u\"",
        "\"\\ud83d\\ude00\"",
        "\"\\uD83D\\uDE00\"",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\ud83d\\u0041\"",
        "\"\\ud83dx\"",
        "\"\\ud83d\\ud83d\"",
        "\"\\udbff\\udfff\"",
        "\"\\ud800\\udc00\"",
        "\"\\u0000\"",
        "\"\\u001f\"",
        "\"\\u007f\"",
        "\"\u{7f}\"",
        "\"é\"",
        "\"日本\"",
        "\"😀\"",
        "\"\u{2028}\u{2029}\"",
        "\"a\tb\"",
        "\"a\nb\"",
        "\"a\rb\"",
        "\"\u{1}\"",
        "\"\u{1f}\"",
        "'a'",
        "\"a\"\"b\"",
        "\"\\",
        "\"\\\"",
        "\"a\\\"",
        "[\"a\",\"b\"]",
        "{\"a\\u0000b\":1}",
        "{\"\\ud83d\\ude00\":1}",
        "\"\\uDFFF\"",
        "\"\\uDBFF\"",
        "\"\\u0020\"",
        "\"\\U0041\"",
        "\"\\ u0041\"",
        // whitespace and trailing garbage
        "{} {}",
        "{}x",
        "{},",
        "[] []",
        "1 2",
        "\"a\" \"b\"",
        "{}\u{0}",
        "\u{0}{}",
        "{}\u{c}",
        "\u{c}{}",
        "\u{a0}{}",
        "\u{feff}{}",
        "{\u{feff}}",
        "{}/* c */",
        "// c\n{}",
        "{} // c",
        "{}#",
        "",
        " ",
        "\n",
        "\t",
        "{\"a\":1}\n\n",
        "[1,\n2]",
        "{\n \"a\" : [ 1 , 2 ] ,\n \"b\" : { }\n}",
        // mixed
        "{\"a\":[{\"b\":[{\"c\":[1,true,null,\"x\"]}]}]}",
        "[[[[[[[[[[1]]]]]]]]]]",
        "[[[[[[[[[[1]]]]]]]]]",
        "{\"k\":\"v\",\"n\":-12.5e-3,\"t\":true,\"f\":false,\"z\":null,\"a\":[],\"o\":{}}",
        "[\"\\u00e9\\u00e8\",\"\\\\n\"]",
    ];
    for t in texts {
        c.push(t.as_bytes().to_vec());
    }
    // Nesting around the limit, arrays and objects.
    let deepest = if cfg!(miri) { 300 } else { 10_000 };
    for d in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200, deepest] {
        c.push(format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes());
        c.push(format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d)).into_bytes());
        c.push("[".repeat(d).into_bytes());
    }
    // Invalid UTF-8 in and out of strings.
    for bad in [
        &b"\"\xff\""[..],
        b"\"\xc3\"",
        b"\"\xc3\x28\"",
        b"\"\xe2\x82\"",
        b"\"\xed\xa0\x80\"",
        b"\"\xf4\x90\x80\x80\"",
        b"\xff{}",
        b"{\"a\":\"\xc0\xaf\"}",
        b"\"\xf0\x9f\x98\x80\"",
        b"{\"\xf0\x9f\x98\x80\":1}",
        b"\"\x80\"",
    ] {
        c.push(bad.to_vec());
    }
    // Every control character raw in a string, and escaped.
    for b in 0u8..0x20 {
        c.push(vec![b'"', b, b'"']);
        c.push(format!("\"\\u{:04x}\"", b).into_bytes());
    }
    // Every escape letter.
    for b in b' '..=b'~' {
        c.push(vec![b'"', b'\\', b, b'"']);
    }
    c
}

/// Where we knowingly differ from serde_json: none today. Kept as the one
/// place to record a deliberate divergence.
fn divergence(_text: &[u8]) -> bool {
    false
}

#[test]
fn corpus_is_large_enough() {
    assert!(corpus().len() >= 200, "corpus has {}", corpus().len());
}

#[test]
fn agrees_with_serde_json() {
    let mut valid = 0;
    let mut invalid = 0;
    for text in corpus() {
        let ours = validate(&text);
        let oracle = serde_json::from_slice::<serde_json::Value>(&text);
        if divergence(&text) {
            continue;
        }
        assert_eq!(
            ours.is_ok(),
            oracle.is_ok(),
            "text {:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(&text),
            ours,
            oracle.as_ref().map_err(|e| e.to_string())
        );
        if let Ok(v) = oracle {
            valid += 1;
            // The compact form parses to the same value and has no newline.
            let mut buf = vec![0u8; text.len() + 1];
            let mut out = Out::new(&mut buf);
            let kind = compact(&text, &mut out).unwrap();
            let written = out.written().to_vec();
            assert!(!written.contains(&b'\n'));
            let back: serde_json::Value = serde_json::from_slice(&written).unwrap();
            assert_eq!(back, v);
            let expect = match v {
                serde_json::Value::Object(_) => Kind::Object,
                serde_json::Value::Array(_) => Kind::Array,
                serde_json::Value::String(_) => Kind::String,
                serde_json::Value::Number(_) => Kind::Number,
                serde_json::Value::Bool(_) => Kind::Bool,
                serde_json::Value::Null => Kind::Null,
            };
            assert_eq!(kind, expect);
            // Compacting is idempotent.
            let mut buf2 = vec![0u8; written.len()];
            let mut out2 = Out::new(&mut buf2);
            compact(&written, &mut out2).unwrap();
            assert_eq!(out2.written(), &written[..]);
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid >= 60 && invalid >= 100,
        "valid {valid} invalid {invalid}"
    );
}

#[test]
fn error_kinds_and_offsets() {
    let e = |t: &[u8]| validate(t).unwrap_err();
    assert_eq!(e(b"{\"a\":tru}").kind, JsonErrorKind::UnexpectedChar);
    assert_eq!(e(b"{\"a\":tru}").offset, 8);
    assert_eq!(e(b"").kind, JsonErrorKind::UnexpectedEnd);
    assert_eq!(e(b"{}x").kind, JsonErrorKind::TrailingCharacters);
    assert_eq!(e(b"{}x").offset, 2);
    assert_eq!(e(b"\"\\q\"").kind, JsonErrorKind::InvalidEscape);
    assert_eq!(e(b"\"\\ud800\"").kind, JsonErrorKind::LoneSurrogate);
    assert_eq!(e(b"\"\\u12G4\"").kind, JsonErrorKind::InvalidUnicodeEscape);
    assert_eq!(e(b"\"a\nb\"").kind, JsonErrorKind::ControlCharacter);
    assert_eq!(e(b"\"\xff\"").kind, JsonErrorKind::InvalidUtf8);
    assert_eq!(e(b"\"\xff\"").offset, 1);
    assert_eq!(e(b"01").kind, JsonErrorKind::TrailingCharacters);
    assert_eq!(e(b"1.e3").kind, JsonErrorKind::InvalidNumber);
    assert_eq!(e(b"1e999").kind, JsonErrorKind::NumberOutOfRange);
    let deep = "[".repeat(MAX_DEPTH + 1);
    assert_eq!(e(deep.as_bytes()).kind, JsonErrorKind::TooDeep);
}

#[test]
fn compact_never_writes_past_its_output() {
    let text = br#"{ "a" : [ 1, 2, 3 ], "b" : "x y z" }"#;
    let mut full = vec![0u8; 64];
    let mut out = Out::new(&mut full);
    compact(text, &mut out).unwrap();
    let n = out.len();
    for cap in 0..n {
        let mut buf = vec![0xAAu8; cap + 8];
        let mut out = Out::new(&mut buf[..cap]);
        assert_eq!(compact(text, &mut out), Err(CompactError::Full));
        assert!(buf[cap..].iter().all(|&b| b == 0xAA));
    }
}
