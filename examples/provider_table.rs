//! Prints the provider table as JSON: what the npm package exports as
//! `imagegen/providers` (scripts/finish-pkg.mjs runs this), so the JS lists
//! of providers, default models and key variables come from the Rust table.

use imagegen::ProviderName;
use serde_json::{json, Value};

fn main() {
    let rows: Vec<Value> = ProviderName::ALL
        .into_iter()
        .map(|p| {
            let spec = p.spec();
            json!({
                "name": spec.name,
                "displayName": spec.display_name,
                "defaultModel": spec.default_model,
                "needsKey": spec.needs_key,
                "keyEnv": (!spec.key_env.is_empty()).then_some(spec.key_env),
                "baseUrlEnv": (!spec.base_url_env.is_empty()).then_some(spec.base_url_env),
                "modelPrefixes": spec.model_prefixes,
            })
        })
        .collect();
    println!("{}", Value::Array(rows));
}
