//! The handle users hold (feature `std`): `report` and its variants,
//! `flush`, `close`, `stats`, written once for every SDK over its
//! [`Platform`]. The native SDK's `alooma::Sdk` is `Sdk<alooma::Native>`, the
//! Wasm SDK's `alooma_wasm::Sdk` is `Sdk<alooma_wasm::Guest>`; where they
//! behave differently, each method says so.

use crate::api::error::ReportError;
use crate::api::front::report;
use crate::api::platform::{Platform, Polled};
use crate::api::stats::{CloseReport, FlushError, Stats};
use crate::wire::envelope::NO_META;
use core::panic::Location;
use core::time::Duration;
use serde::Serialize;
use std::string::String;
use std::vec::Vec;

/// An SDK: reports events into a bounded buffer; its platform delivers
/// them to a collector. Obtain one with [`Sdk::builder`].
///
/// The native SDK (`alooma::Sdk`) is cheap to clone, `Send + Sync`, and
/// sends from a background thread. The Wasm SDK (`alooma_wasm::Sdk`) is
/// cheap to clone too; a guest has no threads, so it sends only from inside
/// its own calls ([`poll`](Self::poll), [`flush`](Self::flush),
/// [`close`](Self::close), and a `report` waiting for room). Dropping the
/// last clone closes the SDK, waiting at most the builder's `drop_timeout`
/// to deliver.
#[derive(Clone)]
pub struct Sdk<P> {
    platform: P,
}

impl<P: Platform> core::fmt::Debug for Sdk<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sdk")
            .field("servers", &self.servers())
            .field("stats", &self.stats())
            .finish()
    }
}

impl<P: Platform> Sdk<P> {
    /// An SDK over a started platform (see [`Platform::start`]).
    pub(crate) fn new(platform: P) -> Self {
        Sdk { platform }
    }

    /// The platform underneath, for front doors written in the SDK crates.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Reports an event: anything `Serialize` that is a JSON object or a
    /// string. The event is encoded on the caller's thread into the buffer
    /// and the call returns; delivery happens elsewhere. Where it was
    /// called from goes into the record's metadata (`calling_file`,
    /// `calling_line`).
    ///
    /// Never panics and never does I/O, except under the blocking
    /// full-buffer policies (`WhenFull::Block`/`BlockFor`): there the
    /// native SDK waits for its sender thread to make room, and the Wasm
    /// SDK, which has no other thread, sends from inside the call until the
    /// record fits or the time is up.
    ///
    /// Errors: the event is refused ([`ReportError::is_invalid_event`],
    /// counted and notified), too large, finds the buffer full, or the SDK
    /// is closed.
    #[track_caller]
    pub fn report<T: Serialize + ?Sized>(&self, event: &T) -> Result<(), ReportError> {
        let loc = Location::caller();
        report(&self.platform, Some(loc), |enc, st, out| {
            enc.encode_value(event, NO_META, st, out)
        })
    }

    /// Like [`report`](Self::report), merging `metadata` (a JSON object)
    /// into the record's metadata.
    #[track_caller]
    pub fn report_with<T, M>(&self, event: &T, metadata: &M) -> Result<(), ReportError>
    where
        T: Serialize + ?Sized,
        M: Serialize + ?Sized,
    {
        let loc = Location::caller();
        report(&self.platform, Some(loc), |enc, st, out| {
            enc.encode_value(event, Some(metadata), st, out)
        })
    }

    /// Reports JSON text (an object or a string), validated strictly and
    /// sent compacted to one line. Otherwise as [`report`](Self::report).
    #[track_caller]
    pub fn report_json(&self, json: &str) -> Result<(), ReportError> {
        let loc = Location::caller();
        report(&self.platform, Some(loc), |enc, st, out| {
            enc.encode_json(json.as_bytes(), NO_META, st, out)
        })
    }

    /// Reports several events, each as [`report`](Self::report) would;
    /// returns the ones refused, with their index.
    #[track_caller]
    pub fn report_many<I>(&self, events: I) -> Vec<(usize, ReportError)>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        let loc = Location::caller();
        let mut failed = Vec::new();
        for (i, ev) in events.into_iter().enumerate() {
            let r = report(&self.platform, Some(loc), |enc, st, out| {
                enc.encode_value(&ev, NO_META, st, out)
            });
            if let Err(e) = r {
                failed.push((i, e));
            }
        }
        failed
    }

    /// Waits until every buffered event is sent (with RELP: acknowledged by
    /// the collector), or `timeout` passes.
    ///
    /// The native SDK's sender thread does the sending; this only waits.
    /// The Wasm SDK sends from inside this call, and "sent" means handed to
    /// the OS by the runtime. In an edge function, call it after the
    /// response is finished (`OutgoingBody::finish`), with what is left of
    /// the request's time budget.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.platform.flush(timeout)
    }

    /// Stops accepting events, delivers what is buffered, closes the
    /// connection cleanly (and stops the native SDK's sender thread),
    /// waiting at most `timeout`. Never hangs; says exactly what was
    /// delivered and what not. Later calls (from any clone) return the same
    /// report.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        self.platform.close(timeout)
    }

    /// Counters. `wakeups` counts the native sender thread's wake-ups, or
    /// the Wasm SDK's polls that found work.
    pub fn stats(&self) -> Stats {
        self.platform.stats()
    }

    /// True while connected to a collector.
    pub fn is_connected(&self) -> bool {
        self.platform.is_connected()
    }

    /// The configured servers.
    pub fn servers(&self) -> &[String] {
        &self.platform.settings().servers
    }
}

impl<P: Polled> Sdk<P> {
    /// Wasm SDK: does all the I/O possible now without blocking: connects,
    /// writes, reconnects, and lets the runtime move pending writes. Call
    /// it often (between events, in an event loop). Returns how long until
    /// it has timed work to do (a reconnect, a linger), if any.
    pub fn poll(&self) -> Option<Duration> {
        self.platform.poll()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ConfigError;
    use crate::api::front::Front;
    use crate::api::notify::{Notice, Notification};
    use crate::api::platform::Parts;
    use crate::api::settings::Settings;
    use std::boxed::Box;
    use std::string::ToString;
    use std::sync::{Arc, Mutex};
    use std::vec;

    /// A platform that keeps its records in memory: the shared API alone,
    /// without a transport.
    #[derive(Clone)]
    struct Mem(Arc<(Front, Mutex<Vec<String>>)>);

    impl Platform for Mem {
        type Extra = ();
        type BuildError = Box<ConfigError>;
        fn defaults() -> Settings {
            Settings {
                buffer_bytes: 1 << 20,
                ..Settings::default()
            }
        }
        fn start(p: Parts<Self>) -> Result<Self, Self::BuildError> {
            let front = Front::new(p.settings, p.notify);
            Ok(Mem(Arc::new((front, Mutex::new(Vec::new())))))
        }
        fn front(&self) -> &Front {
            &self.0 .0
        }
        fn seed() -> u64 {
            7
        }
        fn store(&self, r: &[u8], _: Option<crate::UnixMillis>) -> Result<(), ReportError> {
            let line = core::str::from_utf8(r).unwrap().to_string();
            self.0 .1.lock().unwrap().push(line);
            Ok(())
        }
        fn flush(&self, _: Duration) -> Result<(), FlushError> {
            Ok(())
        }
        fn close(&self, _: Duration) -> CloseReport {
            CloseReport::new(crate::RingStats::default(), 0, true, true)
        }
        fn stats(&self) -> Stats {
            Stats::default()
        }
        fn is_connected(&self) -> bool {
            false
        }
    }

    fn records(sdk: &Sdk<Mem>) -> Vec<String> {
        sdk.platform().0 .1.lock().unwrap().clone()
    }

    fn sdk() -> Sdk<Mem> {
        Sdk::builder()
            .token("t")
            .server("127.0.0.1:5001")
            .stamps(false, false)
            .build()
            .unwrap()
    }

    #[test]
    fn every_report_method_reaches_the_platform_with_its_caller() {
        let sdk = sdk();
        let line = line!() + 1;
        sdk.report(
            &[("a", 1)]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap();
        sdk.report_json(r#" {"b": [1, 2]} "#).unwrap();
        sdk.report_with(
            "text",
            &[("k", "v")]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap();
        let failed = sdk.report_many(vec![
            serde_json::json!({"c": 1}),
            serde_json::json!(3),
            serde_json::json!("d"),
        ]);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 1);
        assert!(matches!(failed[0].1, ReportError::NotObjectOrString(_)));
        let r = records(&sdk);
        assert_eq!(r.len(), 5, "{r:?}");
        let v: Vec<serde_json::Value> =
            r.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(v[0]["a"], 1);
        assert_eq!(v[0]["_metadata"]["calling_line"], line);
        assert!(v[0]["_metadata"]["calling_file"]
            .as_str()
            .unwrap()
            .ends_with("sdk.rs"));
        assert_eq!(v[1]["b"], serde_json::json!([1, 2]));
        assert_eq!(v[2]["message"], "text");
        assert_eq!(v[2]["_metadata"]["k"], "v");
        assert_eq!((&v[3]["c"], &v[4]["message"]), (&1.into(), &"d".into()));
        assert_eq!(sdk.servers(), ["127.0.0.1:5001"]);
    }

    /// Too large an event is measured, not truncated.
    #[test]
    fn too_large_is_measured() {
        let sdk: Sdk<Mem> = Sdk::builder()
            .token("t")
            .server("127.0.0.1:5001")
            .max_event_bytes(300)
            .build()
            .unwrap();
        let big = "x".repeat(1000);
        match sdk.report(&big) {
            Err(ReportError::TooLarge { size, max }) => {
                assert_eq!(max, 300);
                assert!(size > 1000, "{size}");
            }
            r => panic!("{r:?}"),
        }
        assert!(records(&sdk).is_empty());
    }

    /// A `Serialize` that reports through the same SDK while being
    /// encoded: both records are whole (the inner one gets a scratch
    /// buffer of its own).
    #[test]
    fn a_report_inside_serialize_gets_its_own_buffer() {
        struct Nested<'a>(&'a Sdk<Mem>);
        impl serde::Serialize for Nested<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("outer", "before")?;
                self.0.report_json(r#"{"inner": true}"#).unwrap();
                m.serialize_entry("after", &1)?;
                m.end()
            }
        }
        let sdk = sdk();
        sdk.report(&Nested(&sdk)).unwrap();
        let r = records(&sdk);
        assert_eq!(r.len(), 2);
        assert!(r[0].starts_with(r#"{"inner":true,"#), "{}", r[0]);
        assert!(
            r[1].starts_with(r#"{"outer":"before","after":1,"#),
            "{}",
            r[1]
        );
    }

    #[test]
    fn a_bad_configuration_is_notified_and_refused_whole() {
        let seen: Arc<Mutex<Vec<Notice>>> = Arc::default();
        let s2 = seen.clone();
        let r = Sdk::<Mem>::builder()
            .servers(["", "host:notaport"])
            .on_notify(move |n| s2.lock().unwrap().push(n.clone()))
            .build();
        let e = r.expect_err("refused");
        assert!(e.problems().len() >= 2, "{e}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(matches!(seen[0].event, Notification::ConfigFailed));
    }
}
