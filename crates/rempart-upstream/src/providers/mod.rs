//! One module per provider: constants and the body quirks of its wire.
//! Everything else is the shared OpenAI-compatible wire (`crate::wire`).

pub mod azure;
pub mod llamacpp;
pub mod mistral;
pub mod ollama;
pub mod ovh;
pub mod scaleway;
pub mod tgi;
pub mod vllm;

use serde_json::{Map, Value};

/// `max_completion_tokens` is the newer OpenAI name; many servers only
/// know `max_tokens`.
pub(crate) fn completion_tokens_to_max_tokens(body: &mut Map<String, Value>) {
    if let Some(v) = body.remove("max_completion_tokens") {
        body.entry("max_tokens").or_insert(v);
    }
}

/// Remove OpenAI-platform-only fields that other servers reject.
pub(crate) fn drop_openai_platform_fields(body: &mut Map<String, Value>) {
    for k in [
        "store",
        "service_tier",
        "metadata",
        "prediction",
        "modalities",
        "audio",
        "web_search_options",
    ] {
        body.remove(k);
    }
}
