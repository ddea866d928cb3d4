//! llama.cpp's `llama-server` (OpenAI-compatible `/v1/chat/completions`).
//!
//! Quirks: one choice only — the server answers 400 "Only one completion
//! choice is allowed" for `n != 1` (`oaicompat_chat_params_parse`,
//! <https://github.com/ggml-org/llama.cpp/tree/master/tools/server>), so `n`
//! is dropped, with a warning when it asked for more; `max_completion_tokens` unknown;
//! the `model` field is ignored by the server (kept for logs).

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "llama_cpp";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    if let Some(n) = body.remove("n")
        && n.as_u64() != Some(1)
    {
        warnings.push("n dropped: llama.cpp returns a single choice".to_owned());
    }
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn n_is_dropped_and_more_than_one_choice_warns() {
        let mut warnings = Vec::new();
        let mut body = json!({"n": 1, "max_completion_tokens": 9})
            .as_object()
            .unwrap()
            .clone();
        adapt_chat(&mut body, &mut warnings);
        assert_eq!(Value::Object(body), json!({"max_tokens": 9}));
        assert!(warnings.is_empty());
        let mut body = json!({"n": 3}).as_object().unwrap().clone();
        adapt_chat(&mut body, &mut warnings);
        assert!(body.is_empty());
        assert_eq!(warnings, ["n dropped: llama.cpp returns a single choice"]);
    }
}
