//! What the mock received.

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

/// One request as it arrived, kept so tests can assert on it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path without the query, e.g. `/openai/deployments/gpt/chat/completions`.
    pub path: String,
    /// Query string without `?`, if any (e.g. `api-version=2024-10-21`).
    pub query: Option<String>,
    /// Headers; `HeaderMap` names are lower-case.
    pub headers: HeaderMap,
    /// The body bytes exactly as received.
    pub body: Bytes,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl RecordedRequest {
    /// Path and query as sent, e.g. `/v1/chat/completions?api-version=1`.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }

    /// A header's value, if present and valid UTF-8 (`name` in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the raw body contains `needle` — "did plaintext PII arrive?".
    /// Also checks the JSON-unescaped text, so `"a\u00e9"` matches `aé`.
    pub fn contains(&self, needle: &str) -> bool {
        if memfind(&self.body, needle.as_bytes()) {
            return true;
        }
        self.json
            .as_ref()
            .is_some_and(|v| json_strings_contain(v, needle))
    }

    /// Whether this is a chat completion (`…/chat/completions`).
    pub fn is_chat(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }

    /// Whether this is an embeddings request (`…/embeddings`).
    pub fn is_embeddings(&self) -> bool {
        self.path.ends_with("/embeddings")
    }

    /// The `model` field of a JSON body.
    pub fn model(&self) -> Option<&str> {
        self.json.as_ref()?.get("model")?.as_str()
    }

    /// Whether the JSON body asked for streaming.
    pub fn is_stream(&self) -> bool {
        self.json
            .as_ref()
            .and_then(|v| v.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Text of the last `user` message of a chat body (parts joined by `\n`).
    pub fn last_user_message(&self) -> Option<String> {
        last_user_text(self.json.as_ref()?)
    }
}

/// Text of the last `user` message; content may be a string or an array of
/// `{"type":"text","text":…}` parts.
pub(crate) fn last_user_text(body: &Value) -> Option<String> {
    let messages = body.get("messages")?.as_array()?;
    let msg = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))?;
    Some(content_text(msg.get("content")?))
}

/// Text of a message `content` value (string, or array of text parts).
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn json_strings_contain(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| json_strings_contain(x, needle)),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || json_strings_contain(x, needle)),
        _ => false,
    }
}
