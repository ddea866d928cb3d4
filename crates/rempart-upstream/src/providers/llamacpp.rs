//! llama.cpp's `llama-server` (OpenAI-compatible `/v1/chat/completions`).
//!
//! Quirks: one choice only (`n` dropped); `max_completion_tokens` unknown;
//! the `model` field is ignored by the server (kept for logs).

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "llama_cpp";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    body.remove("n");
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
}
