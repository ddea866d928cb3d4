//! Mistral La Plateforme (<https://docs.mistral.ai/api/>).
//!
//! Quirks: `random_seed` instead of `seed`; `tool_choice: "any"` instead of
//! `"required"`; strict schema (unknown fields are rejected with 422), so
//! OpenAI-only fields are dropped; usage is always sent on the last stream
//! chunk and `stream_options` is not accepted; no reasoning budget parameter.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "mistral";
/// Public endpoint (EU).
pub const DEFAULT_BASE_URL: &str = "https://api.mistral.ai/v1";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    if let Some(seed) = body.remove("seed") {
        body.insert("random_seed".into(), seed);
    }
    if body.get("tool_choice").and_then(Value::as_str) == Some("required") {
        body.insert("tool_choice".into(), Value::from("any"));
    }
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
    body.remove("stream_options");
    for k in [
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "parallel_tool_calls_strict",
    ] {
        if body.remove(k).is_some() {
            warnings.push(format!("{k} dropped: not supported by Mistral"));
        }
    }
}
