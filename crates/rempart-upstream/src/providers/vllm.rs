//! vLLM's OpenAI-compatible server.
//!
//! Quirks: rejects `stream_options` unless `stream` is true (handled for all
//! kinds); OpenAI-platform fields dropped; `reasoning_effort` is passed (the
//! model's chat template decides what it means).

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "vllm";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    super::drop_openai_platform_fields(body);
}
