//! The validator agrees with serde_json on every input, and its compact
//! output is the same value on one line.
#![no_main]
use alooma_core::json::{compact, validate};
use alooma_core::Out;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = validate(data);
    let oracle = serde_json::from_slice::<serde_json::Value>(data);
    assert_eq!(ours.is_ok(), oracle.is_ok(), "ours {:?} oracle {:?}", ours, oracle.as_ref().err());
    if let Ok(v) = oracle {
        let mut buf = vec![0u8; data.len()];
        let mut out = Out::new(&mut buf);
        compact(data, &mut out).unwrap();
        let w = out.written();
        assert!(!w.contains(&b'\n'));
        assert_eq!(serde_json::from_slice::<serde_json::Value>(w).unwrap(), v);
    }
});
