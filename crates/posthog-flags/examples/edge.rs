//! Local flag evaluation at the edge: this example builds to a WebAssembly module exporting
//! one function to JavaScript, `evaluate(definitions, distinct_id, person_properties)`, which
//! returns the subject's flags as a JSON object (`{"flag": true | "variant" | false}`; a flag
//! that needs PostHog is left out, to be asked of `/flags`). An edge worker fetches the
//! definitions (`/api/feature_flag/local_evaluation`), caches them, and calls it per request.
//!
//! ```text
//! cargo build -p posthog-flags --example edge --target wasm32-unknown-unknown
//! wasm-bindgen --target nodejs --out-dir target/edge \
//!     target/wasm32-unknown-unknown/debug/examples/edge.wasm
//! node -e 'const {evaluate} = require("./target/edge/edge.js");
//!          console.log(evaluate(DEFINITIONS_JSON, "user-123", "{\"plan\": \"pro\"}"))'
//! ```
//!
//! `cargo xtask ci` does exactly this with `fixtures/bench/thirty_flags.json` under Node. A real
//! worker would compile the definitions once (`FlagSet`) and keep them between requests.

use posthog_flags::{EvalContext, FlagSet, FlagValueRef, Properties};
use wasm_bindgen::prelude::wasm_bindgen;

/// The flags of `distinct_id` with `person_properties` (a JSON object) under `definitions`
/// (PostHog's local-evaluation document), as a JSON object; `{"error": …}` when an input does
/// not parse.
#[wasm_bindgen]
pub fn evaluate(definitions: &str, distinct_id: &str, person_properties: &str) -> String {
    let answer = (|| {
        let flags = FlagSet::from_slice(definitions.as_bytes()).map_err(|e| e.to_string())?;
        let person: Properties = if person_properties.trim().is_empty() {
            Properties::new()
        } else {
            serde_json::from_str(person_properties).map_err(|e| e.to_string())?
        };
        let ctx = EvalContext::new(distinct_id).person_properties(&person);
        let mut out = serde_json::Map::new();
        for (key, evaluation) in flags.evaluate_all(&ctx) {
            let value = match evaluation.value() {
                Some(FlagValueRef::Bool(on)) => serde_json::Value::Bool(on),
                Some(FlagValueRef::Variant(variant)) => variant.into(),
                None => continue, // inconclusive locally: ask PostHog
            };
            out.insert(key.to_owned(), value);
        }
        Ok::<_, String>(serde_json::Value::Object(out))
    })();
    match answer {
        Ok(flags) => flags.to_string(),
        Err(error) => serde_json::json!({ "error": error }).to_string(),
    }
}
