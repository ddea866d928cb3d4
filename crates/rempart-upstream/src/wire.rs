//! OpenAI wire types, once. The gateway parses client requests into these
//! and upstream clients serialise them; fields Rempart does not interpret are
//! kept in `extra` and passed through untouched.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model alias requested by the client.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Stream the answer as SSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Tools offered to the model (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Reasoning budget (`low`, `medium`, `high`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Metadata; Rempart reads `task` for routing rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Rempart's extension (`extra_body={"rempart": {...}}`), never forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rempart: Option<RempartExtension>,
    /// Every other field, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// Whether the client asked for SSE.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// Whether the client asked for the usage chunk when streaming.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true)
    }

    /// Whether any message has an image part.
    pub fn has_images(&self) -> bool {
        self.messages.iter().any(|m| match &m.content {
            Some(Content::Parts(parts)) => parts.iter().any(|p| matches!(p, Part::ImageUrl { .. })),
            _ => false,
        })
    }

    /// The `task` metadata label, if any.
    pub fn task(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("task")?.as_str()
    }

    /// A cheap token estimate of the prompt (4 bytes per token, plus
    /// per-message overhead), for routing rules only.
    pub fn estimated_prompt_tokens(&self) -> u32 {
        let bytes: usize = self.messages.iter().map(|m| 4 * 4 + m.text_len()).sum();
        u32::try_from(bytes / 4).unwrap_or(u32::MAX)
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a final chunk with usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Other options, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Rempart's request extension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RempartExtension {
    /// Purpose of processing, recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Data-subject reference, recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_ref: Option<String>,
    /// Conversation memory: a UUID chosen by the client, the same for every
    /// turn. The conversation's pseudonym mapping and turns are stored
    /// sealed, so values stay pseudonymised (with the same placeholders)
    /// across turns; linked to the data subject `subject_ref` names when
    /// that is a registered subject's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Collections to retrieve from (private RAG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collections: Option<Vec<String>>,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text or parts; absent on assistant tool-call messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Tool calls of an assistant message (passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// Other fields (`name`, `tool_call_id`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// Total bytes of text in the message.
    pub fn text_len(&self) -> usize {
        match &self.content {
            Some(Content::Text(t)) => t.len(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .map(|p| match p {
                    Part::Text { text, .. } => text.len(),
                    _ => 0,
                })
                .sum(),
            None => 0,
        }
    }

    /// The message's text, parts joined by newlines (images skipped).
    pub fn text(&self) -> String {
        match &self.content {
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
            None => String::new(),
        }
    }
}

/// Message content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Typed parts (text, images, ...).
    Parts(Vec<Part>),
}

/// A content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Other fields.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// An image, by URL or data URL (passed through).
    ImageUrl {
        /// `{"url": ..., "detail": ...}`.
        image_url: Value,
        /// Other fields.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// Any other part type (audio, file, ...), passed through.
    #[serde(untagged)]
    Other(Value),
}

/// A non-streaming chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Upstream id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default = "chat_completion")]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model the upstream reports.
    #[serde(default)]
    pub model: String,
    /// Choices.
    pub choices: Vec<Value>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chat_completion() -> String {
    "chat.completion".to_owned()
}

/// A streamed chunk (`chat.completion.chunk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// Upstream id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default = "chat_completion_chunk")]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model the upstream reports.
    #[serde(default)]
    pub model: String,
    /// Choices (deltas); empty on the usage chunk.
    #[serde(default)]
    pub choices: Vec<Value>,
    /// Usage, on the last chunk when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chat_completion_chunk() -> String {
    "chat.completion.chunk".to_owned()
}

/// Token usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Total.
    #[serde(default)]
    pub total_tokens: u64,
    /// Set by Rempart on a usage it estimated because the upstream reported
    /// none (absent otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// `POST /v1/embeddings` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// Model alias.
    pub model: String,
    /// A string, a list of strings, or token arrays.
    pub input: Value,
    /// Other fields (`encoding_format`, `dimensions`, `user`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingsRequest {
    /// The input texts (token-array inputs yield none).
    pub fn texts(&self) -> Vec<&str> {
        match &self.input {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// `POST /v1/embeddings` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    /// `list`.
    #[serde(default = "list")]
    pub object: String,
    /// One per input.
    pub data: Vec<Value>,
    /// Model the upstream reports.
    #[serde(default)]
    pub model: String,
    /// Usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn list() -> String {
    "list".to_owned()
}

/// The OpenAI error body `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The OpenAI error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Human-readable message.
    pub message: String,
    /// Error type (`invalid_request_error`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Machine code.
    pub code: Option<String>,
    /// Offending parameter.
    pub param: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_parts_pass_through() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
            {"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]},
            {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"42"}],
            "temperature":0.2,"response_format":{"type":"json_object"},"rempart":{"purpose":"support"}}"#;
        let req: ChatRequest = serde_json::from_str(body).unwrap();
        assert!(req.has_images());
        assert_eq!(
            req.rempart.as_ref().unwrap().purpose.as_deref(),
            Some("support")
        );
        let back = serde_json::to_value(&req).unwrap();
        let orig: Value = serde_json::from_str(body).unwrap();
        assert_eq!(back, orig);
    }
}
