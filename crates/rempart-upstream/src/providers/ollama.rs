//! Ollama's OpenAI-compatible API (`/v1/chat/completions`).
//!
//! Quirks: no authentication; `max_completion_tokens` unknown; the health
//! probe is `GET /api/tags`; `reasoning_effort` accepted for thinking models.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "ollama";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
}
