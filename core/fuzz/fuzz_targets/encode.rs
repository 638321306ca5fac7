//! Any JSON value the fuzzer finds: encoding it is byte-for-byte
//! serde_json's (raw envelope), every envelope parses back, and an output
//! too small gives `Full` with nothing written past it.
#![no_main]
use alooma_core::{Config, Cursor, EncodeError, Envelope, EventType, JsonView, Out, Ring, Stamp, TypeName, NO_META};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (knob, text) = (data[0], &data[1..]);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else { return };
    let mut cfg = Config::new("tok", &[]);
    cfg.event_type = EventType::Field("type");
    for env in [Envelope::Raw, Envelope::Metadata, Envelope::Wrapped] {
        cfg.envelope = env;
        let enc = cfg.encoder();
        let mut buf = vec![0u8; text.len() * 2 + 1024];
        let mut out = Out::new(&mut buf);
        let r = enc.encode_value(&v, NO_META, &Stamp::default(), &mut out);
        let ok = v.is_object() || v.is_string();
        match r {
            Ok(n) => {
                assert!(ok);
                let line = buf[..n].to_vec();
                assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
                let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
                if env == Envelope::Raw {
                    assert_eq!(line, format!("{}\n", serde_json::to_string(&v).unwrap()).into_bytes());
                    assert_eq!(back, v);
                }
                // JSON text input gives the same record.
                let mut buf2 = vec![0u8; text.len() + 1024];
                let mut out2 = Out::new(&mut buf2);
                let n2 = enc.encode_json(text, NO_META, &Stamp::default(), &mut out2).unwrap();
                let back2: serde_json::Value = serde_json::from_slice(&buf2[..n2]).unwrap();
                assert_eq!(back2, back);
                // Too small an output: Full, nothing past the limit.
                let cap = (knob as usize * n / 256).min(n - 1);
                let mut small = vec![0xAAu8; n + 8];
                let mut o = Out::new(&mut small[..cap]);
                assert_eq!(enc.encode_value(&v, NO_META, &Stamp::default(), &mut o), Err(EncodeError::Full));
                assert!(small[cap..].iter().all(|&b| b == 0xAA));
            }
            Err(EncodeError::NotObjectOrString(_)) => assert!(!ok),
            Err(EncodeError::Unsupported(_)) => {} // nesting deeper than serde_json writes
            Err(e) => panic!("{e:?}"),
        }
    }
    // Through a small ring (retry and counting paths), every event-type mode:
    // accepted whole or refused, never a panic.
    static F: &alooma_core::TypeFn = &|ev: JsonView<'_>| ev.get_str("type").map(TypeName::Json);
    let modes = [EventType::InputLabel, EventType::Fixed("f"), EventType::Field("type"), EventType::With(F)];
    cfg.envelope = Envelope::Metadata;
    cfg.event_type = modes[knob as usize % 4];
    let enc = cfg.encoder();
    let mut ring: Ring<[u8; 700]> = Ring::new();
    for k in 0..4 {
        let r = ring.push_with(k % 2 == 1, 600, |o| enc.encode_value(&v, NO_META, &Stamp::default(), o));
        if r.is_ok() {
            let c = ring.contents();
            let mut all = c.first.to_vec();
            all.extend_from_slice(c.second);
            for line in all.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(line).unwrap();
            }
        }
        let n = ring.transmit(200 * k).len();
        ring.mark_sent(n / 2);
    }
});
