//! Hugging Face Text Generation Inference, Messages API
//! (<https://huggingface.co/docs/text-generation-inference/messages_api>).
//!
//! Quirks: the served model is fixed, and the body's `model` must be `tgi`;
//! `max_completion_tokens` unknown; OpenAI-platform fields rejected.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "tgi";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    body.insert("model".into(), Value::from("tgi"));
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
}
