//! The smallest useful guest: report one event to the collector named in
//! `ALOOMA_SERVER` and close. Its release size is the SDK's cost in a Wasm
//! binary (README, "Wasm").

fn main() {
    let server = std::env::var("ALOOMA_SERVER").unwrap_or_else(|_| "127.0.0.1:5001".into());
    let Ok(sdk) = alooma_wasm::Sdk::builder()
        .token("wasm-demo")
        .server(server)
        .build()
    else {
        return;
    };
    let _ = sdk.report_json(r#"{"hello": "from wasm"}"#);
    let r = sdk.close(std::time::Duration::from_secs(2));
    println!("delivered {} unsent {}", r.delivered, r.unsent);
}
