//! An edge function: a `wasi:http` incoming-handler component that answers
//! each request, then reports one event (method, path, status, latency) to
//! the collector in `ALOOMA_SERVER` and flushes it within a deadline.
//!
//! ```text
//! cargo build --profile wasm --target wasm32-wasip2 -p alooma-edge-function
//! wasmtime serve -S cli=y -S inherit-network=y --env ALOOMA_SERVER=127.0.0.1:5001 \
//!     target/wasm32-wasip2/wasm/alooma_edge_function.wasm
//! ```
//!
//! The response goes out first (set, body written, `OutgoingBody::finish`):
//! the client never waits for the collector. The SDK lives in a
//! `thread_local`, so with `--max-instance-reuse-count N` an instance keeps
//! one connection for up to N requests; with the default (a new instance per
//! request) each request connects, sends, and is flushed before the
//! instance goes.

use alooma_wasm::Sdk;
use serde::Serialize;
use std::cell::RefCell;
use std::time::Duration;
use wasi::clocks::monotonic_clock;
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasi::http::proxy::export!(Edge);

/// How long a request may spend delivering its event after its response.
const FLUSH_BUDGET: Duration = Duration::from_millis(500);

thread_local! {
    static SDK: RefCell<Option<Sdk>> = const { RefCell::new(None) };
    static SERVED: RefCell<u64> = const { RefCell::new(0) };
}

#[derive(Serialize)]
struct Request<'a> {
    kind: &'static str,
    method: &'a str,
    path: &'a str,
    status: u16,
    latency_us: u64,
    /// Requests this instance has served, this one included.
    instance_requests: u64,
}

fn method_name(m: &Method) -> &str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(s) => s,
    }
}

fn build_sdk() -> Option<Sdk> {
    let server = std::env::var("ALOOMA_SERVER").unwrap_or_else(|_| "127.0.0.1:5001".into());
    let token = std::env::var("ALOOMA_TOKEN").unwrap_or_else(|_| "edge-demo".into());
    Sdk::builder()
        .token(token)
        .server(server)
        .input_label("edge")
        .connect_timeout(Duration::from_secs(2))
        .on_notify(|n| eprintln!("alooma: {n}"))
        .build()
        .map_err(|e| eprintln!("alooma: {e}"))
        .ok()
}

/// Sends the response: status, a short body, `finish`.
fn respond(out: ResponseOutparam, status: u16, text: &str) {
    let resp = OutgoingResponse::new(Fields::new());
    let _ = resp.set_status_code(status);
    let Ok(body) = resp.body() else { return };
    ResponseOutparam::set(out, Ok(resp));
    if let Ok(stream) = body.write() {
        let _ = stream.blocking_write_and_flush(text.as_bytes());
    }
    let _ = OutgoingBody::finish(body, None);
}

struct Edge;

impl wasi::exports::http::incoming_handler::Guest for Edge {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let start = monotonic_clock::now();
        let method = request.method();
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let (status, text) = if path.starts_with("/missing") {
            (404, "not found\n")
        } else {
            (200, "hello from the edge\n")
        };
        respond(out, status, text);
        let latency_us = (monotonic_clock::now() - start) / 1000;
        let served = SERVED.with_borrow_mut(|n| {
            *n += 1;
            *n
        });
        SDK.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot = build_sdk();
            }
            let Some(sdk) = slot.as_ref() else { return };
            let ev = Request {
                kind: "request",
                method: method_name(&method),
                path: &path,
                status,
                latency_us,
                instance_requests: served,
            };
            if let Err(e) = sdk.report(&ev) {
                eprintln!("alooma: event refused: {e}");
            }
            if let Err(e) = sdk.flush(FLUSH_BUDGET) {
                eprintln!("alooma: {e}");
            }
        });
    }
}
